/* supervisor.h - the exportd parent: forks N workers and keeps them running.
 *
 * SIGTERM/SIGINT: stop workers (they give their jobs back), wait up to the
 * shutdown grace, exit 0.  SIGHUP: reload the config and replace the
 * workers.  A worker that dies is restarted with backoff.
 */
#ifndef EXPORTD_SUPERVISOR_H
#define EXPORTD_SUPERVISOR_H

#include "common/conf.h"

/* cf is owned by the caller; it is replaced in place on reload. */
int supervisor_run(struct config *cf, const char *conf_path);

#endif

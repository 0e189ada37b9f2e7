/* janitor.h - the exportd child that enforces retention: complete exports
 * past their expires_at lose their file and become 'expired'. */
#ifndef EXPORTD_JANITOR_H
#define EXPORTD_JANITOR_H

#include "common/conf.h"

/* Runs until SIGTERM; returns the process exit status. */
int janitor_main(const struct config *cf);

#endif

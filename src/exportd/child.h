/* child.h - what every exportd child process (workers, the mailer) shares:
 * signal handling, a LISTENing connection kept up with capped backoff, and
 * waiting for a NOTIFY or a timeout. */
#ifndef EXPORTD_CHILD_H
#define EXPORTD_CHILD_H

#include <libpq-fe.h>
#include <signal.h>

#include "common/conf.h"

/* Set by SIGTERM/SIGINT once child_init() ran. */
extern volatile sig_atomic_t child_stop;

/* In a freshly forked child: handlers on, signals unblocked. */
void child_init(void);
/* Connect and run listen_sql ("LISTEN a; LISTEN b"), retrying with capped
 * backoff until it works or child_stop is set (then NULL). */
PGconn *child_connect(const struct config *cf, const char *appname, const char *listen_sql);
/* Wait up to timeout_ms (plus up to a quarter of it as jitter) for a
 * notification on conn, then drop any that arrived. */
void child_wait(PGconn *conn, long long timeout_ms);

#endif

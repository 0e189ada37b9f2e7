/* child.h - the one run loop of every exportd child process (workers, the
 * janitor, the mailer): signal handling, a LISTENing connection kept up
 * with capped backoff, a round of work, then waiting for a NOTIFY or a
 * timeout. */
#ifndef EXPORTD_CHILD_H
#define EXPORTD_CHILD_H

#include <libpq-fe.h>
#include <signal.h>

#include "common/conf.h"

/* Set by SIGTERM/SIGINT once child_run() started. */
extern volatile sig_atomic_t child_stop;

/* Why a round runs. */
enum child_why {
	CHILD_START,   /* the first round after (re)connecting */
	CHILD_TIMEOUT, /* the wait ran out */
	CHILD_NOTIFY,  /* a NOTIFY on the connection */
	CHILD_POKED,   /* this process took the node's poke (wake.h) */
	CHILD_IDLE     /* the poke was another's: nothing to do */
};

/* "start", "timeout", "notify", "poke", "idle": for logs. */
const char *child_why_name(enum child_why why);

struct child_loop {
	const char *appname;	/* the connection's application_name */
	const char *listen_sql; /* run after each connect: "LISTEN a; LISTEN b" */
	/* One round of work on a working connection; returns how long to
	 * wait (ms, plus up to a quarter as jitter) for a NOTIFY before the
	 * next round.  Rounds check child_stop between units of work. */
	long long (*round)(PGconn *conn, const struct config *cf, void *arg, enum child_why why);
	void *arg;
	/* Connect to database.session_url (LISTEN, session advisory locks),
	 * not database.url (which may be a transaction pooler). */
	int session;
	/* Also wait on the node's poke pipe (wake.h): the workers. */
	int wake;
	/* Called with each notification received, before it is dropped. */
	void (*notified)(const PGnotify *n, void *arg);
};

/* In a freshly forked child: handlers on, signals unblocked; then rounds
 * until SIGTERM/SIGINT, reconnecting (and running a round at once) after
 * the connection breaks.  Returns the process exit status. */
int child_run(const struct config *cf, const struct child_loop *loop);

/* An outbox's round (the mailer's, the webhook deliverer's): next() sends
 * the next due item and sets *sent, until nothing is due, a stop is asked
 * or it fails (logged as "<what>: <error>"). */
typedef enum ex_status (*child_next_fn)(PGconn *conn, const struct config *cf, int *sent,
					struct buf *err);
void child_drain(PGconn *conn, const struct config *cf, child_next_fn next, const char *what);

#endif

#include "exportd/child.h"

#include <poll.h>
#include <string.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "db/db.h"
#include "exportd/stats.h"
#include "exportd/wake.h"

volatile sig_atomic_t child_stop;

static void child_on_signal(int sig)
{
	(void)sig;
	child_stop = 1;
}

static void child_init(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = child_on_signal; /* no SA_RESTART: waits wake up */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* One attempt: connect (*conn may be set even when it fails) and run
 * listen_sql. */
static enum ex_status child_connect_once(const struct config *cf, const struct child_loop *loop,
					 PGconn **conn, struct buf *err)
{
	enum ex_status st;

	st = db_connect(loop->session ? cf->db_session_url : cf->db_url, loop->appname, conn, err);
	if (st) {
		return st;
	}
	return db_exec_script(*conn, loop->listen_sql, err);
}

/* Connect and run listen_sql, retrying with capped backoff until it works
 * or child_stop is set (then NULL). */
static PGconn *child_connect(const struct config *cf, const struct child_loop *loop)
{
	long long backoff = 100;
	struct buf err;
	PGconn *conn = NULL;
	int failures = 0;
	enum ex_status st;

	buf_init(&err, 4096);
	while (!child_stop) {
		st = child_connect_once(cf, loop, &conn, &err);
		if (!st) {
			break;
		}
		log_warn("database unavailable, retrying in %lldms: %s", backoff, buf_str(&err));
		if (conn != NULL) {
			PQfinish(conn);
			conn = NULL;
		}
		poll(NULL, 0, (int)(backoff + timeutil_jitter_ms(backoff / 2)));
		backoff = backoff_delay_ms(100, 10000, ++failures + 1);
	}
	buf_free(&err);
	return conn;
}

const char *child_why_name(enum child_why why)
{
	static const char *const names[] = {"start", "timeout", "notify", "poke", "idle"};

	return (unsigned)why < sizeof(names) / sizeof(names[0]) ? names[why] : "?";
}

/* Drop the notifications libpq holds (shown to the loop's notified
 * first); 1 when there were any. */
static int child_drop_notifies(PGconn *conn, const struct child_loop *loop)
{
	PGnotify *n;
	int any = 0;

	while ((n = PQnotifies(conn)) != NULL) {
		if (loop->notified != NULL) {
			loop->notified(n, loop->arg);
		}
		PQfreemem(n);
		any = 1;
	}
	return any;
}

/* Wait up to timeout_ms (plus jitter) for a notification on conn (or a
 * poke, for the workers), then drop the notifications that arrived.  Those
 * libpq read during the last round count at once. */
static enum child_why child_wait(PGconn *conn, const struct child_loop *loop, long long timeout_ms)
{
	struct pollfd pfd[2] = {{PQsocket(conn), POLLIN, 0},
				{loop->wake ? wake_fd() : -1, POLLIN, 0}};
	int got;

	if (child_drop_notifies(conn, loop)) {
		return CHILD_NOTIFY;
	}
	got = poll(pfd, 2, (int)(timeout_ms + timeutil_jitter_ms(timeout_ms / 4)));
	if (got <= 0) {
		return CHILD_TIMEOUT;
	}
	if (pfd[0].revents) {
		PQconsumeInput(conn);
	}
	if (child_drop_notifies(conn, loop)) {
		return CHILD_NOTIFY;
	}
	if (pfd[1].revents) {
		return wake_taken() ? CHILD_POKED : CHILD_IDLE;
	}
	return CHILD_IDLE; /* input that was not a notification */
}

int child_run(const struct config *cf, const struct child_loop *loop)
{
	PGconn *conn = NULL;
	long long wait_ms;
	enum child_why why = CHILD_START;

	child_init();
	while (!child_stop) {
		if (!db_ok(conn)) {
			if (conn != NULL) {
				PQfinish(conn);
			}
			conn = child_connect(cf, loop);
			why = CHILD_START; /* a round at once after (re)connecting */
			continue;
		}
		wait_ms = loop->round(conn, cf, loop->arg, why);
		stats_flush(conn, cf);
		if (!child_stop && db_ok(conn)) {
			why = child_wait(conn, loop, wait_ms);
		}
	}
	if (conn != NULL) {
		stats_worker_gone(conn, cf);
		PQfinish(conn);
	}
	return 0;
}

void child_drain(PGconn *conn, const struct config *cf, child_next_fn next, const char *what)
{
	struct buf err;
	int sent = 1;

	buf_init(&err, 4096);
	while (sent && !child_stop) {
		if (next(conn, cf, &sent, &err) != EX_OK) {
			log_warn("%s: %s", what, buf_str(&err));
			break;
		}
	}
	buf_free(&err);
}

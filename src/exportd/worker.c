#include "exportd/worker.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "db/db.h"
#include "exportd/export.h"
#include "jobs/jobs.h"

static volatile sig_atomic_t worker_stop;

static void worker_on_signal(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void worker_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_on_signal; /* no SA_RESTART: waits wake up */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Sleep up to ms, waking early on a signal. */
static void worker_sleep(long long ms)
{
	poll(NULL, 0, (int)ms);
}

/* Connect the control connection and LISTEN, retrying with capped backoff. */
static PGconn *worker_connect(const struct config *cf)
{
	long long backoff = 100;
	struct buf err;
	PGconn *conn = NULL;

	buf_init(&err, 4096);
	while (!worker_stop) {
		if (db_connect(cf->db_url, "exportd-worker", &conn, &err) == EX_OK &&
		    db_exec_script(conn, "LISTEN export_jobs; LISTEN export_cancel", &err) ==
			    EX_OK) {
			break;
		}
		log_warn("database unavailable, retrying in %lldms: %s", backoff, buf_str(&err));
		if (conn != NULL) {
			PQfinish(conn);
			conn = NULL;
		}
		worker_sleep(backoff + timeutil_jitter_ms(backoff / 2));
		backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
	}
	buf_free(&err);
	return conn;
}

/* Wait for a NOTIFY or the poll interval (with jitter), whichever first. */
static void worker_wait(PGconn *conn, const struct config *cf)
{
	struct pollfd pfd = {PQsocket(conn), POLLIN, 0};
	long long timeout = cf->poll_interval_ms + timeutil_jitter_ms(cf->poll_interval_ms / 4);
	PGnotify *n;

	if (poll(&pfd, 1, (int)timeout) > 0) {
		PQconsumeInput(conn);
	}
	while ((n = PQnotifies(conn)) != NULL) {
		PQfreemem(n);
	}
}

static long long worker_backoff(const struct config *cf, int attempts)
{
	long long d = cf->retry_base_ms;
	int i;

	for (i = 1; i < attempts && d < cf->retry_max_ms; i++) {
		d *= 2;
	}
	if (d > cf->retry_max_ms) {
		d = cf->retry_max_ms;
	}
	return d / 2 + timeutil_jitter_ms(d / 2 + 1);
}

static const char *worker_error_code(enum ex_status st)
{
	switch (st) {
	case EX_EPERM:
	case EX_ENOTFOUND:
		return "source_unavailable";
	case EX_ETOOBIG:
		return "row_too_large";
	case EX_EINVAL:
		return "invalid_job";
	case EX_EIO:
		return "storage_error";
	case EX_EDB:
		return "database_error";
	default:
		return "internal_error";
	}
}

static int worker_transient(enum ex_status st)
{
	return st == EX_EDB || st == EX_EIO || st == EX_ENOMEM;
}

/* Record the outcome of a run that did not complete. */
static void worker_settle(PGconn *ctl, const struct config *cf, const struct jobs_claim *job,
			  enum ex_status st, const char *message)
{
	struct buf err;
	enum ex_status rc;
	long long retry = -1;

	buf_init(&err, 4096);
	if (st == EX_ESTOP) {
		rc = jobs_release(ctl, job, &err);
		log_info("job %s: released for another worker (shutdown)", job->id);
	} else if (st == EX_ECANCEL) {
		rc = jobs_mark_cancelled(ctl, job, &err);
		log_info("job %s: cancelled", job->id);
	} else {
		if (worker_transient(st) && job->attempts < cf->max_attempts) {
			retry = worker_backoff(cf, job->attempts);
		}
		rc = jobs_fail(ctl, job, worker_error_code(st), message, retry, &err);
		log_warn("job %s: attempt %d failed (%s)%s: %s", job->id, job->attempts,
			 worker_error_code(st), retry >= 0 ? ", will retry" : "", message);
	}
	if (rc == EX_ELEASE) {
		log_warn("job %s: lease lost; leaving it to its new holder", job->id);
	} else if (rc != EX_OK) {
		log_error("job %s: cannot record the outcome: %s", job->id, buf_str(&err));
	}
	buf_free(&err);
}

static void worker_run_job(PGconn *ctl, const struct config *cf, struct jobs_claim *job)
{
	struct export_ctx ctx = {cf, ctl, job, &worker_stop};
	struct buf err;
	enum ex_status st;

	buf_init(&err, 8192);
	log_info("job %s: claimed (type %s, format %s, attempt %d, token %lld)", job->id, job->type,
		 job->format, job->attempts, job->lease_token);
	st = export_run(&ctx, &err);
	if (st == EX_ELEASE) {
		log_warn("job %s: lease lost; stopping without completing", job->id);
	} else if (st != EX_OK && db_ok(ctl)) {
		worker_settle(ctl, cf, job, st, err.len ? buf_str(&err) : status_strerror(st));
	} else if (st != EX_OK) {
		log_error("job %s: %s; control connection lost, the lease will expire", job->id,
			  buf_str(&err));
	}
	if (db_ok(ctl)) {
		jobs_unlock_all(ctl);
	}
	buf_free(&err);
}

/* Claim and run jobs until none is due. */
static void worker_drain(PGconn *ctl, const struct config *cf, const char *owner)
{
	struct jobs_claim job;
	struct buf err;
	int found = 1;

	buf_init(&err, 4096);
	while (found && !worker_stop && db_ok(ctl)) {
		if (jobs_claim(ctl, owner, cf->lease_timeout_ms, &job, &found, &err) != EX_OK) {
			log_warn("claim failed: %s", buf_str(&err));
			break;
		}
		if (found) {
			worker_run_job(ctl, cf, &job);
			jobs_claim_free(&job);
		}
	}
	buf_free(&err);
}

int worker_main(const struct config *cf, int slot)
{
	char owner[128], host[64] = "localhost";
	PGconn *ctl = NULL;

	worker_signals();
	gethostname(host, sizeof(host) - 1);
	snprintf(owner, sizeof(owner), "%s:%ld:%d", host, (long)getpid(), slot);
	log_info("worker %d started", slot);
	while (!worker_stop) {
		if (!db_ok(ctl)) {
			if (ctl != NULL) {
				PQfinish(ctl);
			}
			ctl = worker_connect(cf);
			continue; /* poll at once after (re)connecting */
		}
		worker_drain(ctl, cf, owner);
		if (!worker_stop && db_ok(ctl)) {
			worker_wait(ctl, cf);
		}
	}
	if (ctl != NULL) {
		PQfinish(ctl);
	}
	log_info("worker %d stopped", slot);
	return 0;
}

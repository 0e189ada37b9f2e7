#include "exportd/worker.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/counter.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "db/db.h"
#include "exportd/child.h"
#include "exportd/export.h"
#include "exportd/stats.h"
#include "exportd/wake.h"
#include "jobs/jobs.h"

/* The connection rows are read on, kept from one job to the next. */
static struct replica_conn worker_source;
/* When the next round is due without a wake-up (monotonic ms). */
static long long worker_next_round;
/* The keys (wake.h) of the new jobs' notifications received since this
 * worker last claimed; lost: more than fit. */
static uint64_t worker_heard[16];
static int worker_nheard, worker_heard_lost;

static const char *worker_error_code(enum ex_status st)
{
	switch (st) {
	case EX_EPERM:
	case EX_ENOTFOUND:
		return "source_unavailable";
	case EX_ETOOBIG:
		return "row_too_large";
	case EX_EGAVEUP:
		return "too_many_attempts";
	case EX_ELIMIT:
		return "limit_exceeded";
	case EX_EREFUSED:
		return "storage_refused";
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
			retry = backoff_jitter_ms(cf->retry_base_ms, cf->retry_max_ms,
						  job->attempts);
			counter_add(COUNTER_RETRIES, "", 1);
		}
		rc = jobs_fail(ctl, job, worker_error_code(st), message, retry,
			       cf->mail_smtp_url[0] != '\0', &err);
		if (!rc && retry < 0) {
			export_discard(cf, job); /* nothing will resume it */
		}
		log_warn("job %s: attempt %d failed (%s)%s: %s", job->id, job->attempts,
			 worker_error_code(st), retry >= 0 ? ", will retry" : "", message);
	}
	if (rc == EX_ELEASE) {
		log_warn("job %s: lease lost; leaving it to its new holder", job->id);
	} else if (rc) {
		log_error("job %s: cannot record the outcome: %s", job->id, buf_str(&err));
	}
	buf_free(&err);
}

static void worker_run_job(PGconn *ctl, const struct config *cf, struct jobs_claim *job)
{
	struct export_ctx ctx = {cf, ctl, &worker_source, job, &child_stop};
	struct buf err;
	enum ex_status st;

	buf_init(&err, 8192);
	log_info("job %s: claimed (type %s, format %s, attempt %d, token %lld, node %s)", job->id,
		 job->type, job->format, job->attempts, job->lease_token, cf->node_name);
	if (job->attempts > cf->max_attempts) {
		/* Taken over more often than allowed: its workers keep dying. */
		buf_msg(&err, "gave up after %d attempts: the export's worker stopped %d times",
			job->attempts - 1, job->attempts - 1);
		worker_settle(ctl, cf, job, EX_EGAVEUP, buf_str(&err));
		jobs_unlock_all(ctl);
		buf_free(&err);
		return;
	}
	st = export_run(&ctx, &err);
	if (st == EX_ELEASE) {
		log_warn("job %s: lease lost; stopping without completing", job->id);
	} else if (st && db_ok(ctl)) {
		worker_settle(ctl, cf, job, st, err.len ? buf_str(&err) : status_strerror(st));
	} else if (st) {
		log_error("job %s: %s; control connection lost, the lease will expire", job->id,
			  buf_str(&err));
	}
	if (db_ok(ctl)) {
		jobs_unlock_all(ctl);
	}
	buf_free(&err);
}

static void worker_notified(const PGnotify *n, void *arg)
{
	(void)arg;
	if (strcmp(n->relname, "export_jobs") != 0) {
		return; /* export_cancel: for a worker that runs the job */
	}
	if (worker_nheard < (int)(sizeof(worker_heard) / sizeof(worker_heard[0]))) {
		worker_heard[worker_nheard++] = wake_key(n->extra);
	} else {
		worker_heard_lost = 1;
	}
}

/* A new job no worker of the node has looked for since it was heard of. */
static int worker_news(void)
{
	int i;

	for (i = 0; i < worker_nheard; i++) {
		if (!wake_covered(worker_heard[i])) {
			return 1;
		}
	}
	return worker_heard_lost;
}

/* cover: a claim starts now, after everything heard. */
static void worker_forget_heard(int cover)
{
	if (cover) {
		wake_cover(worker_heard, worker_nheard);
	}
	worker_nheard = 0;
	worker_heard_lost = 0;
}

/* Does this wake-up claim?  *held: this worker took the node's flag;
 * *more: other jobs may be due after the first one it gets. */
static int worker_claims(enum child_why why, int *held, int *more)
{
	int claims = why == CHILD_START || why == CHILD_TIMEOUT;

	*more = why != CHILD_NOTIFY || worker_nheard > 1 || worker_heard_lost;
	if (why == CHILD_POKED || (why == CHILD_NOTIFY && worker_news())) {
		claims = *held = wake_take();
		/* The holder may have covered the news meanwhile. */
		if (!claims && (why == CHILD_POKED || worker_news())) {
			claims = *held = wake_pass();
		}
	}
	/* What this worker heard is covered by the claim it starts now, or
	 * by the one the flag holder runs after hearing it too. */
	worker_forget_heard(claims);
	return claims;
}

/* A wake-up another worker of the node answers (wake.h): wait on. */
static long long worker_pass(PGconn *ctl, const struct config *cf)
{
	long long left = worker_next_round - timeutil_now_ms();

	stats_beat(ctl, cf);
	return left > 0 ? left : 0;
}

/* Claim and run jobs until none is due; then wait until the earliest
 * retry is due, or the poll interval, whichever comes first.  A NOTIFY or
 * a poke claims only for the worker holding the node's flag, and a NOTIFY
 * only for a job no worker of the node looked for since; before it
 * exports, a worker hands the flag on to an idle peer (wake.h). */
static long long worker_round(PGconn *ctl, const struct config *cf, void *owner, enum child_why why)
{
	struct jobs_claim job;
	struct buf err;
	long long due, wait;
	int found = 1, held = 0, more;
	enum ex_status st;

	if (!worker_claims(why, &held, &more)) {
		return worker_pass(ctl, cf);
	}
	log_debug("looking for due jobs (%s)", child_why_name(why));
	buf_init(&err, 4096);
	stats_beat(ctl, cf);
	while (found && !child_stop && db_ok(ctl)) {
		long long before = timeutil_now_ms();

		st = jobs_claim(ctl, owner, cf->lease_timeout_ms, &job, &found, &err);
		if (st) {
			log_warn("claim failed: %s", buf_str(&err));
			break;
		}
		if (found) {
			wake_hand_on(more); /* an idle peer claims what else is due */
			held = 0;
			more = 1; /* the next claim comes after a job */
			job.claimed_ms = before;
			stats_claimed(job.takeover, job.waited);
			stats_state(ctl, cf, job.id);
			worker_run_job(ctl, cf, &job);
			stats_state(ctl, cf, NULL);
			jobs_claim_free(&job);
		}
	}
	if (held) {
		wake_give();
	}
	buf_free(&err);
	due = child_stop || !db_ok(ctl) ? -1 : jobs_next_due_ms(ctl);
	wait = due >= 0 && due < cf->poll_interval_ms ? due + 1 : cf->poll_interval_ms;
	/* Wake for the worker row's heartbeat (stats_beat) even when idle. */
	if (wait > cf->heartbeat_interval_ms) {
		wait = cf->heartbeat_interval_ms;
	}
	worker_next_round = timeutil_now_ms() + wait;
	return wait;
}

int worker_main(const struct config *cf, int slot)
{
	char owner[128];
	/* session: LISTEN, and each claim's advisory lock lives as long as the
	 * connection. */
	struct child_loop loop = {.appname = "exportd-worker",
				  .listen_sql = "LISTEN export_jobs; LISTEN export_cancel",
				  .round = worker_round,
				  .arg = owner,
				  .session = 1,
				  .wake = 1,
				  .notified = worker_notified};
	int rc;

	/* The lease holder as jobs show it: node:pid:slot. */
	snprintf(owner, sizeof(owner), "%s:%ld:%d", cf->node_name, (long)getpid(), slot);
	log_info("worker %d started", slot);
	stats_worker_init(slot);
	rc = child_run(cf, &loop);
	replica_close(&worker_source);
	log_info("worker %d stopped", slot);
	return rc;
}

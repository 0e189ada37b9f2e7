/* janitor.c - the retention child: expired exports lose their files, and
 * finished jobs are folded into the /metrics totals. */
#include "exportd/janitor.h"

#include "common/log.h"
#include "common/timeutil.h"
#include "db/db.h"
#include "exportd/child.h"
#include "exportd/notify.h"
#include "jobs/jobs.h"
#include "storage/storage.h"

/* A due job's file: removed, or the job stays complete (retried next
 * round). */
static enum ex_status janitor_remove(const void *arg, const char *id, const char *file_key)
{
	const struct config *cf = arg;
	struct buf err;
	enum ex_status st;

	if (file_key == NULL) {
		return EX_OK;
	}
	buf_init(&err, 4096);
	st = storage_remove(cf, file_key, &err);
	if (st) {
		log_warn("job %s: cannot remove its expired file: %s", id, buf_str(&err));
	}
	buf_free(&err);
	return st;
}

/* Final-state jobs into the /metrics totals (jobs_metrics_fold), so that a
 * scrape never reads every job. */
static void janitor_fold(PGconn *conn, struct buf *err)
{
	int n = JOBS_FOLD_BATCH, total = 0;

	while (n == JOBS_FOLD_BATCH && !child_stop) {
		if (jobs_metrics_fold(conn, JOBS_FOLD_BATCH, &n, err)) {
			log_warn("metrics totals: %s", buf_str(err));
			break;
		}
		total += n;
	}
	if (total > 0) {
		log_debug("metrics totals: %d finished jobs folded", total);
	}
}

/* Under a Type=notify unit, `systemctl status exportd` shows the queue,
 * refreshed this often (the janitor's connection is otherwise idle). */
#define JANITOR_STATUS_MS 5000

static void janitor_status(PGconn *conn, const struct config *cf)
{
	struct jobs_queue q;
	struct buf err;

	buf_init(&err, 1024);
	if (jobs_queue_status(conn, &q, &err) == EX_OK) {
		notify_send("STATUS=%lld workers; %lld export%s running, %lld waiting", cf->workers,
			    q.running, q.running == 1 ? "" : "s", q.queued);
	} else {
		notify_send("STATUS=%lld workers; queue unknown: %s", cf->workers, buf_str(&err));
	}
	buf_free(&err);
}

static void janitor_expire(PGconn *conn, const struct config *cf)
{
	struct buf err;
	int n = 1, total = 0;

	buf_init(&err, 4096);
	while (n > 0 && !child_stop) {
		if (jobs_expire_batch(conn, janitor_remove, cf, &n, &err)) {
			log_warn("retention: %s", buf_str(&err));
			break;
		}
		total += n;
	}
	if (total > 0) {
		log_info("retention: %d expired exports removed", total);
	}
	janitor_fold(conn, &err);
	buf_free(&err);
}

/* Retention and the metrics fold every cleanup_interval; the STATUS line
 * in between. */
static long long janitor_round(PGconn *conn, const struct config *cf, void *arg, enum child_why why)
{
	long long *next_expire = arg, now = timeutil_now_ms();

	(void)why;
	if (now >= *next_expire) {
		janitor_expire(conn, cf);
		*next_expire = now + cf->cleanup_interval_ms;
	}
	if (!notify_enabled()) {
		return *next_expire - now;
	}
	janitor_status(conn, cf);
	return *next_expire - now < JANITOR_STATUS_MS ? *next_expire - now : JANITOR_STATUS_MS;
}

int janitor_main(const struct config *cf)
{
	static long long next_expire; /* 0: at once */
	static const struct child_loop loop = {.appname = "exportd-janitor",
					       .listen_sql = "SELECT 1",
					       .round = janitor_round,
					       .arg = &next_expire};

	return child_run(cf, &loop);
}

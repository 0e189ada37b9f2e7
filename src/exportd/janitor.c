/* janitor.c - the retention child: expired exports lose their files, and
 * finished jobs are folded into the /metrics totals. */
#include "exportd/janitor.h"

#include "common/log.h"
#include "db/db.h"
#include "exportd/child.h"
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

/* Jobs folded into the /metrics totals per statement: a short lock on
 * those rows, and a backlog (the first round after migration 009) goes
 * in steps. */
#define JANITOR_FOLD_BATCH 5000

/* Final-state jobs into the /metrics totals (jobs_metrics_fold), so that a
 * scrape never reads every job. */
static void janitor_fold(PGconn *conn, struct buf *err)
{
	int n = JANITOR_FOLD_BATCH, total = 0;

	while (n == JANITOR_FOLD_BATCH && !child_stop) {
		if (jobs_metrics_fold(conn, JANITOR_FOLD_BATCH, &n, err)) {
			log_warn("metrics totals: %s", buf_str(err));
			break;
		}
		total += n;
	}
	if (total > 0) {
		log_debug("metrics totals: %d finished jobs folded", total);
	}
}

static long long janitor_round(PGconn *conn, const struct config *cf, void *arg)
{
	struct buf err;
	int n = 1, total = 0;

	(void)arg;
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
	return cf->cleanup_interval_ms;
}

int janitor_main(const struct config *cf)
{
	static const struct child_loop loop = {"exportd-janitor", "SELECT 1", janitor_round, NULL};

	return child_run(cf, &loop);
}

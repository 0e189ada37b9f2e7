/* stats.c - counters and worker rows for /metrics (see stats.h). */
#include "exportd/stats.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/counter.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "db/db.h"
#include "exportd/stats_sql.h"
#include "jobs/jobs.h"

/* exportd_queue_latency_seconds' buckets: from a LISTEN wake-up (well
 * under a second) to a queue that is hours behind. */
static const char *const stats_queue_labels[COUNTER_QUEUE_NBOUNDS] = COUNTER_QUEUE_BOUNDS;

static int stats_slot = -1; /* not a worker */
static char stats_job[JOBS_ID_LEN + 1];
static long long stats_last_ms;
static int stats_failing;

void stats_worker_init(int slot)
{
	stats_slot = slot;
	stats_job[0] = '\0';
	stats_last_ms = 0;
	counter_reset(); /* nothing of the supervisor's is ours to write */
}

static void stats_failed(const char *what, const struct buf *err)
{
	if (!stats_failing) {
		log_warn("metrics: cannot write %s (kept for the next try): %s", what,
			 buf_str(err));
	}
	stats_failing = 1;
}

/* [{"m","l","v"}...] of the pending counters; NULL when there are none. */
static struct json_object *stats_rows(const struct counter *c, size_t n)
{
	struct json_object *rows, *row;
	size_t i;

	if (n == 0) {
		return NULL;
	}
	rows = json_object_new_array();
	for (i = 0; rows != NULL && i < n; i++) {
		row = json_object_new_object();
		if (row == NULL || json_object_array_add(rows, row) != 0) {
			json_object_put(row);
			json_object_put(rows);
			return NULL;
		}
		json_object_object_add(row, "m", json_object_new_string(c[i].metric));
		json_object_object_add(row, "l", json_object_new_string(c[i].labels));
		json_object_object_add(row, "v", json_object_new_double(c[i].value));
	}
	return rows;
}

void stats_flush(PGconn *conn, const struct config *cf)
{
	static struct counter pending[COUNTER_MAX];
	size_t n = counter_pending(pending);
	struct json_object *rows = stats_rows(pending, n);
	const char *params[2];
	struct buf err;

	if (rows == NULL || !db_ok(conn)) {
		json_object_put(rows);
		return;
	}
	buf_init(&err, 2048);
	params[0] = cf->node_name;
	params[1] = json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PLAIN);
	if (params[1] != NULL && db_exec(conn, stats_flush_sql, 2, params, NULL, &err) == EX_OK) {
		counter_commit(pending, n);
		stats_failing = 0;
	} else {
		stats_failed("the counters", &err);
	}
	json_object_put(rows);
	buf_free(&err);
}

/* Rows of slots this node no longer runs. */
static void stats_prune(PGconn *conn, const struct config *cf)
{
	char workers[16];
	const char *params[2] = {cf->node_name, workers};
	struct buf err;

	snprintf(workers, sizeof(workers), "%lld", cf->workers);
	buf_init(&err, 2048);
	if (db_exec(conn, stats_worker_prune_sql, 2, params, NULL, &err) != EX_OK) {
		stats_failed("the worker rows", &err);
	}
	buf_free(&err);
}

void stats_state(PGconn *conn, const struct config *cf, const char *job_id)
{
	char slot[16], pid[16];
	const char *params[5] = {cf->node_name, slot, pid, job_id ? "busy" : "idle", job_id};
	struct buf err;

	if (stats_slot < 0 || !db_ok(conn)) {
		return;
	}
	/* stats_beat passes stats_job itself: copying it onto itself would
	 * be an overlapping snprintf (it came out empty: '' is no uuid). */
	if (job_id != stats_job) {
		snprintf(stats_job, sizeof(stats_job), "%s", job_id ? job_id : "");
	}
	snprintf(slot, sizeof(slot), "%d", stats_slot);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	buf_init(&err, 2048);
	if (stats_last_ms == 0 && stats_slot == 0) {
		stats_prune(conn, cf);
	}
	if (db_exec(conn, stats_worker_sql, 5, params, NULL, &err) == EX_OK) {
		stats_last_ms = timeutil_now_ms();
		stats_failing = 0;
	} else {
		stats_failed("the worker's row", &err);
	}
	buf_free(&err);
	stats_flush(conn, cf);
}

void stats_beat(PGconn *conn, const struct config *cf)
{
	if (timeutil_now_ms() - stats_last_ms < cf->heartbeat_interval_ms) {
		return;
	}
	if (stats_slot < 0) {
		stats_last_ms = timeutil_now_ms();
		stats_flush(conn, cf);
		return;
	}
	stats_state(conn, cf, stats_job[0] ? stats_job : NULL);
}

void stats_worker_gone(PGconn *conn, const struct config *cf)
{
	char slot[16], pid[16];
	const char *params[3] = {cf->node_name, slot, pid};
	struct buf err;

	stats_flush(conn, cf);
	if (stats_slot < 0 || !db_ok(conn)) {
		return;
	}
	snprintf(slot, sizeof(slot), "%d", stats_slot);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	buf_init(&err, 2048);
	if (db_exec(conn, stats_worker_gone_sql, 3, params, NULL, &err) != EX_OK) {
		stats_failed("the worker's row", &err);
	}
	buf_free(&err);
}

void stats_claimed(int takeover, double waited_s)
{
	double bounds[COUNTER_QUEUE_NBOUNDS];
	size_t i;

	if (takeover) {
		counter_add(COUNTER_TAKEOVERS, "", 1);
		return;
	}
	for (i = 0; i < COUNTER_QUEUE_NBOUNDS; i++) {
		bounds[i] = strtod(stats_queue_labels[i], NULL);
	}
	counter_observe(COUNTER_QUEUE_LATENCY, waited_s < 0 ? 0 : waited_s, bounds,
			stats_queue_labels, COUNTER_QUEUE_NBOUNDS);
}

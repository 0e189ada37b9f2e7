#include "http/metrics.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "http/reply.h"
#include "jobs/jobs.h"

/* Upper bounds of exportd_export_duration_seconds, in seconds: the labels
 * of JOBS_DURATION_BOUNDS (jobs.h), in its order. */
static const char *const metrics_buckets[] = {"1", "5", "15", "60", "300", "900", "3600"};
#define METRICS_NBUCKETS (sizeof(metrics_buckets) / sizeof(metrics_buckets[0]))

static const char *const metrics_statuses[] = {"pending", "processing", "complete",
					       "failed",  "cancelled",	"expired"};

static enum ex_status metrics_head(struct buf *out, const char *name, const char *type,
				   const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample; value is PostgreSQL's text for a number. */
static enum ex_status metrics_sample(struct buf *out, const char *name, const char *type,
				     const char *help, const char *value)
{
	enum ex_status st = metrics_head(out, name, type, help);

	if (st) {
		return st;
	}
	return buf_printf(out, "%s %s\n", name, value);
}

static enum ex_status metrics_jobs(const struct jobs_metrics *m, struct buf *out)
{
	struct json_object *by = json_tokener_parse(m->by_status), *n;
	enum ex_status st;
	size_t i;

	st = metrics_head(out, "exportd_jobs", "gauge", "Export jobs by status.");
	if (st) {
		goto out;
	}
	for (i = 0; i < sizeof(metrics_statuses) / sizeof(metrics_statuses[0]); i++) {
		n = NULL;
		json_object_object_get_ex(by, metrics_statuses[i], &n);
		st = buf_printf(out, "exportd_jobs{status=\"%s\"} %lld\n", metrics_statuses[i],
				(long long)json_object_get_int64(n));
		if (st) {
			goto out;
		}
	}
out:
	json_object_put(by);
	return st;
}

static enum ex_status metrics_histogram(const struct jobs_metrics *m, struct buf *out)
{
	static const char name[] = "exportd_export_duration_seconds";
	struct json_object *counts = json_tokener_parse(m->durations);
	enum ex_status st;
	size_t i;

	st = metrics_head(out, name, "histogram",
			  "Time from the first start to completion of finished exports.");
	if (st) {
		goto out;
	}
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		st = buf_printf(
			out, "%s_bucket{le=\"%s\"} %lld\n", name, metrics_buckets[i],
			(long long)json_object_get_int64(json_object_array_get_idx(counts, i)));
		if (st) {
			goto out;
		}
	}
	st = buf_printf(out, "%s_bucket{le=\"+Inf\"} %s\n%s_sum %s\n%s_count %s\n", name,
			m->duration_count, name, m->duration_sum, name, m->duration_count);
out:
	json_object_put(counts);
	return st;
}

/* The exposition text for a jobs_metrics() row (jobs.h), appended to out. */
static enum ex_status metrics_render(const PGresult *res, struct buf *out)
{
	struct jobs_metrics m;
	enum ex_status st;

	jobs_metrics_read(res, &m);
	st = metrics_jobs(&m, out);
	if (st) {
		return st;
	}
	st = metrics_sample(out, "exportd_rows_exported_total", "counter",
			    "Rows written by finished exports.", m.rows);
	if (st) {
		return st;
	}
	st = metrics_sample(out, "exportd_bytes_exported_total", "counter",
			    "Bytes of the files of finished exports.", m.bytes);
	if (st) {
		return st;
	}
	st = metrics_histogram(&m, out);
	if (st) {
		return st;
	}
	st = metrics_sample(out, "exportd_queue_depth", "gauge",
			    "Pending jobs that are due to run.", m.queue);
	if (st) {
		return st;
	}
	return metrics_sample(out, "exportd_oldest_pending_age_seconds", "gauge",
			      "How long the longest-waiting due job has waited to start.",
			      m.oldest_due);
}

void metrics_handle(struct app *app, struct http_request *r, const struct auth *who, const char *id)
{
	PGresult *res = NULL;
	struct buf err, out;
	char extra[96];
	enum ex_status st;

	(void)who;
	(void)id;
	buf_init(&err, 4096);
	buf_init(&out, 64 * 1024UL);
	st = jobs_metrics(app->conn, &res, &err);
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	st = metrics_render(res, &out);
	if (st) {
		buf_msg(&err, "the metrics do not fit in %lld bytes", (long long)out.cap);
		reply_internal(r, "metrics", &err);
		goto out;
	}
	snprintf(extra, sizeof(extra), "Content-Length: %lld\r\nCache-Control: no-store\r\n",
		 (long long)out.len);
	request_head(r, 200, "text/plain; version=0.0.4; charset=utf-8", extra);
	request_write(r, out.data, out.len);
out:
	PQclear(res);
	buf_free(&out);
	buf_free(&err);
}

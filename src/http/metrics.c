#include "http/metrics.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/counter.h"
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

/* ---- what exportd's processes counted (exportd_counters, migration 015) ---- */

struct metrics_event {
	const char *name, *help;
	const char *const *shown; /* label sets shown even at 0; NULL-terminated */
};

static const char *const metrics_plain[] = {"", NULL};
static const char *const metrics_outcomes[] = {"outcome=\"sent\"", "outcome=\"retried\"",
					       "outcome=\"failed\"", NULL};
static const char *const metrics_webhook_outcomes[] = {
	"outcome=\"delivered\"", "outcome=\"retried\"", "outcome=\"failed\"", NULL};
static const char *const metrics_seen[] = {NULL};

static const struct metrics_event metrics_events[] = {
	{COUNTER_TAKEOVERS,
	 "Processing jobs claimed again because their worker's lease ran out or its "
	 "connection went away.",
	 metrics_plain},
	{COUNTER_RETRIES, "Failed attempts scheduled to run again.", metrics_plain},
	{COUNTER_MAIL, "Mail delivery attempts by outcome.", metrics_outcomes},
	{COUNTER_WEBHOOKS, "Webhook delivery attempts by outcome.", metrics_webhook_outcomes},
	{COUNTER_S3_FAILURES,
	 "Failed S3 requests by S3 error code, else HTTP status, else network (exportd's "
	 "processes).",
	 metrics_seen},
};

/* Text i of a row; "" if it is not there. */
static const char *metrics_text(struct json_object *row, size_t i)
{
	const char *v = json_object_is_type(row, json_type_array)
				? json_object_get_string(json_object_array_get_idx(row, i))
				: NULL;

	return v != NULL ? v : "";
}

/* metric{labels} in counters ([[metric, labels, value], ...]); 0 if absent. */
static double metrics_counter(struct json_object *counters, const char *metric, const char *labels)
{
	size_t i, n = json_object_array_length(counters);

	for (i = 0; i < n; i++) {
		struct json_object *row = json_object_array_get_idx(counters, i);

		if (strcmp(metrics_text(row, 0), metric) == 0 &&
		    strcmp(metrics_text(row, 1), labels) == 0) {
			return json_object_get_double(json_object_array_get_idx(row, 2));
		}
	}
	return 0;
}

static enum ex_status metrics_line(struct buf *out, const char *name, const char *labels, double v)
{
	return buf_printf(out, "%s%s%s%s %.15g\n", name, labels[0] ? "{" : "", labels,
			  labels[0] ? "}" : "", v);
}

static int metrics_listed(const char *const *shown, const char *labels)
{
	for (; *shown != NULL; shown++) {
		if (strcmp(*shown, labels) == 0) {
			return 1;
		}
	}
	return 0;
}

static enum ex_status metrics_event(struct json_object *counters, const struct metrics_event *e,
				    struct buf *out)
{
	size_t i, n = json_object_array_length(counters);
	const char *const *l;
	enum ex_status st = metrics_head(out, e->name, "counter", e->help);

	for (l = e->shown; !st && *l != NULL; l++) {
		st = metrics_line(out, e->name, *l, metrics_counter(counters, e->name, *l));
	}
	for (i = 0; !st && i < n; i++) {
		struct json_object *row = json_object_array_get_idx(counters, i);
		const char *labels = metrics_text(row, 1);

		if (strcmp(metrics_text(row, 0), e->name) == 0 &&
		    !metrics_listed(e->shown, labels)) {
			st = metrics_line(
				out, e->name, labels,
				json_object_get_double(json_object_array_get_idx(row, 2)));
		}
	}
	return st;
}

static enum ex_status metrics_queue_latency(struct json_object *counters, struct buf *out)
{
	static const char *const bounds[COUNTER_QUEUE_NBOUNDS] = COUNTER_QUEUE_BOUNDS;
	static const char name[] = COUNTER_QUEUE_LATENCY;
	char labels[32];
	enum ex_status st;
	size_t i;

	st = metrics_head(out, name, "histogram",
			  "Time from a job being due (created, or its retry time) to a worker "
			  "claiming it.");
	for (i = 0; !st && i <= COUNTER_QUEUE_NBOUNDS; i++) {
		snprintf(labels, sizeof(labels), "le=\"%s\"",
			 i < COUNTER_QUEUE_NBOUNDS ? bounds[i] : "+Inf");
		st = metrics_line(
			out, COUNTER_QUEUE_LATENCY "_bucket", labels,
			metrics_counter(counters, COUNTER_QUEUE_LATENCY "_bucket", labels));
	}
	if (st) {
		return st;
	}
	st = metrics_line(out, COUNTER_QUEUE_LATENCY "_sum", "",
			  metrics_counter(counters, COUNTER_QUEUE_LATENCY "_sum", ""));
	if (st) {
		return st;
	}
	return metrics_line(out, COUNTER_QUEUE_LATENCY "_count", "",
			    metrics_counter(counters, COUNTER_QUEUE_LATENCY "_count", ""));
}

/* name{node="<node, quoted>"<rest>} value; rest is "" or ,state="x". */
static enum ex_status metrics_node_line(struct buf *out, const char *name, const char *node,
					const char *rest, double v)
{
	enum ex_status st = buf_printf(out, "%s{node=\"", name);

	for (; !st && *node; node++) {
		if (*node == '\\' || *node == '"') {
			st = buf_printf(out, "\\%c", *node);
		} else if (*node == '\n') {
			st = buf_printf(out, "\\n");
		} else {
			st = buf_printf(out, "%c", *node);
		}
	}
	if (st) {
		return st;
	}
	return buf_printf(out, "\"%s} %.15g\n", rest, v);
}

static double metrics_num(struct json_object *row, size_t i)
{
	return json_object_get_double(json_object_array_get_idx(row, i));
}

/* Per node ([node, idle, busy, heartbeat], ...): workers idle and busy,
 * and the newest heartbeat. */
static enum ex_status metrics_workers(struct json_object *nodes, struct buf *out)
{
	size_t i, n = json_object_array_length(nodes);
	struct json_object *row;
	enum ex_status st;

	st = metrics_head(out, "exportd_workers", "gauge",
			  "exportd worker processes by node and state.");
	for (i = 0; !st && i < n; i++) {
		row = json_object_array_get_idx(nodes, i);
		st = metrics_node_line(out, "exportd_workers", metrics_text(row, 0),
				       ",state=\"idle\"", metrics_num(row, 1));
		if (!st) {
			st = metrics_node_line(out, "exportd_workers", metrics_text(row, 0),
					       ",state=\"busy\"", metrics_num(row, 2));
		}
	}
	if (st) {
		return st;
	}
	st = metrics_head(out, "exportd_node_heartbeat_timestamp_seconds", "gauge",
			  "When a node's workers last wrote their heartbeat (Unix time).");
	for (i = 0; !st && i < n; i++) {
		row = json_object_array_get_idx(nodes, i);
		st = metrics_node_line(out, "exportd_node_heartbeat_timestamp_seconds",
				       metrics_text(row, 0), "", metrics_num(row, 3));
	}
	return st;
}

/* text as a JSON array; an empty one if it is not one. */
static struct json_object *metrics_array(const char *text)
{
	struct json_object *a = text != NULL ? json_tokener_parse(text) : NULL;

	if (a != NULL && json_object_is_type(a, json_type_array)) {
		return a;
	}
	json_object_put(a);
	return json_object_new_array();
}

static enum ex_status metrics_exportd(const struct jobs_metrics *m, struct buf *out)
{
	struct json_object *counters = metrics_array(m->counters);
	struct json_object *nodes = metrics_array(m->workers);
	enum ex_status st = EX_OK;
	size_t i;

	for (i = 0; !st && i < sizeof(metrics_events) / sizeof(metrics_events[0]); i++) {
		st = metrics_event(counters, &metrics_events[i], out);
	}
	if (st) {
		goto out;
	}
	st = metrics_queue_latency(counters, out);
	if (st) {
		goto out;
	}
	st = metrics_workers(nodes, out);
out:
	json_object_put(counters);
	json_object_put(nodes);
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
	st = metrics_sample(out, "exportd_oldest_pending_age_seconds", "gauge",
			    "How long the longest-waiting due job has waited to start.",
			    m.oldest_due);
	if (st) {
		return st;
	}
	return metrics_exportd(&m, out);
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
	buf_init(&out, 256 * 1024UL);
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

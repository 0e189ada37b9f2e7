#include "jobs/jobjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "jobs/filterspec.h"
#include "jobs/jobs.h"

/* Ran to the end: complete, or complete and since expired (row_count set). */
static int jobjson_finished(const struct jobs_view *v)
{
	return strcmp(v->status, "complete") == 0 ||
	       (strcmp(v->status, "expired") == 0 && v->row_count != DB_NULL);
}

static struct json_object *jobjson_str(const char *v)
{
	return v != NULL ? json_object_new_string(v) : NULL;
}

/* DB_NULL (unknown) is JSON null. */
static struct json_object *jobjson_int(long long v)
{
	return v != DB_NULL ? json_object_new_int64(v) : NULL;
}

/* Seconds left, extrapolated from the rate so far; NULL when unknown
 * (not started, nothing done yet, or past the planner's estimate). */
static struct json_object *jobjson_eta(const struct jobs_view *v)
{
	long long done = v->rows_done, total = v->rows_estimated;
	double eta;

	if (jobjson_finished(v)) {
		return json_object_new_int64(0);
	}
	/* running_for is known exactly when started_at is. */
	if (strcmp(v->status, "processing") != 0 || total == DB_NULL || v->started_at == NULL ||
	    done <= 0) {
		return NULL;
	}
	if (total <= done) {
		return NULL;
	}
	eta = v->running_for * (double)(total - done) / (double)done;
	if (!(eta >= 0) || eta > 1e9) {
		return NULL;
	}
	return json_object_new_int64((long long)eta + (eta > (double)(long long)eta));
}

static struct json_object *jobjson_progress(const struct jobs_view *v)
{
	struct json_object *p = json_object_new_object();
	long long done = v->rows_done, est = v->rows_estimated;
	struct json_object *percent = NULL;
	double pct;

	if (jobjson_finished(v)) {
		percent = json_object_new_double(100.0);
	} else if (est != DB_NULL && est > 0) {
		/* The estimate is the planner's: never claim 100 before the end. */
		pct = 100.0 * (double)done / (double)est;
		pct = pct > 99.9 ? 99.9 : pct;
		percent = json_object_new_double((double)(long long)(pct * 10) / 10);
	}
	json_object_object_add(p, "rows_done", json_object_new_int64(done));
	json_object_object_add(p, "rows_estimated", jobjson_int(est));
	json_object_object_add(p, "bytes_done", json_object_new_int64(v->bytes_done));
	json_object_object_add(p, "percent", percent);
	json_object_object_add(p, "eta_seconds", jobjson_eta(v));
	return p;
}

static struct json_object *jobjson_error(const struct jobs_view *v)
{
	struct json_object *e;

	if (v->error_code == NULL) {
		return NULL;
	}
	e = json_object_new_object();
	json_object_object_add(e, "code", jobjson_str(v->error_code));
	json_object_object_add(e, "message", jobjson_str(v->error_message));
	return e;
}

static struct json_object *jobjson_links(const char *id, const char *base)
{
	struct json_object *l = json_object_new_object();
	char url[512];

	snprintf(url, sizeof(url), "%s/exports/%s", base, id);
	json_object_object_add(l, "self", json_object_new_string(url));
	snprintf(url, sizeof(url), "%s/exports/%s/download", base, id);
	json_object_object_add(l, "download", json_object_new_string(url));
	return l;
}

static struct json_object *jobjson_json(const char *text)
{
	return text != NULL ? json_tokener_parse(text) : NULL;
}

/* The job's filters in the request's shape (jobs/filterspec.h), so they
 * can be sent again as they are; {} when the stored form is not one. */
static struct json_object *jobjson_filters(const char *text)
{
	struct json_object *out = NULL;
	struct filterspec fs;
	struct buf err;
	enum ex_status st;

	filterspec_init(&fs);
	buf_init(&err, 256);
	st = filterspec_parse(text, &fs, &err);
	if (st) {
		goto out;
	}
	out = filterspec_request(&fs);
out:
	filterspec_free(&fs);
	buf_free(&err);
	return out != NULL ? out : json_object_new_object();
}

static struct json_object *jobjson_csv(const struct jobs_view *v)
{
	struct json_object *c;

	if (strcmp(v->format, "csv") != 0) {
		return NULL;
	}
	c = json_object_new_object();
	json_object_object_add(c, "bom", json_object_new_boolean(v->csv_bom));
	json_object_object_add(c, "formula_guard", json_object_new_boolean(v->csv_formula_guard));
	json_object_object_add(c, "delimiter", jobjson_str(v->csv_delimiter));
	return c;
}

static struct json_object *jobjson_checksum(const char *v)
{
	struct json_object *c;

	if (v == NULL || strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64) {
		return NULL;
	}
	c = json_object_new_object();
	json_object_object_add(c, "sha256", json_object_new_string(v));
	return c;
}

/* The object for a read row. */
static struct json_object *jobjson_view(const struct jobs_view *v, const char *base)
{
	const struct {
		const char *name, *value;
	} timestamps[] = {
		{"created_at", v->created_at},	   {"started_at", v->started_at},
		{"completed_at", v->completed_at}, {"expires_at", v->expires_at},
		{"purged_at", v->purged_at},
	};
	struct json_object *j = json_object_new_object();
	size_t i;

	json_object_object_add(j, "id", jobjson_str(v->id));
	json_object_object_add(j, "type", jobjson_str(v->type));
	json_object_object_add(j, "format", jobjson_str(v->format));
	json_object_object_add(j, "compression", jobjson_str(v->compression));
	json_object_object_add(j, "columns", jobjson_json(v->columns_json));
	json_object_object_add(j, "filters", jobjson_filters(v->filters_json));
	json_object_object_add(j, "include_deleted", json_object_new_boolean(v->include_deleted));
	json_object_object_add(j, "csv", jobjson_csv(v));
	json_object_object_add(j, "timezone", jobjson_str(v->timezone));
	json_object_object_add(j, "header", jobjson_str(v->header));
	/* An XLSX cannot be appended to: a rerun rebuilds it from the first row. */
	json_object_object_add(j, "resumable",
			       json_object_new_boolean(strcmp(v->format, "xlsx") != 0));
	json_object_object_add(j, "as_of", jobjson_str(v->as_of));
	json_object_object_add(j, "since", jobjson_str(v->since));
	json_object_object_add(j, "status", jobjson_str(v->status));
	json_object_object_add(j, "progress", jobjson_progress(v));
	json_object_object_add(j, "row_count", jobjson_int(v->row_count));
	json_object_object_add(j, "file_size", jobjson_int(v->file_size));
	json_object_object_add(j, "checksum", jobjson_checksum(v->checksum));
	json_object_object_add(j, "next_since", jobjson_str(v->next_since));
	json_object_object_add(j, "error", jobjson_error(v));
	json_object_object_add(j, "attempts", jobjson_int(v->attempts));
	json_object_object_add(j, "node", jobjson_str(v->node));
	json_object_object_add(j, "notification", jobjson_json(v->notification_json));
	json_object_object_add(j, "webhooks",
			       v->webhooks_json != NULL ? jobjson_json(v->webhooks_json)
							: json_object_new_array());
	json_object_object_add(j, "cancel_requested", json_object_new_boolean(v->cancel_requested));
	for (i = 0; i < sizeof(timestamps) / sizeof(timestamps[0]); i++) {
		json_object_object_add(j, timestamps[i].name, jobjson_str(timestamps[i].value));
	}
	json_object_object_add(j, "links", jobjson_links(v->id, base));
	return j;
}

struct json_object *jobjson_from_row(const PGresult *res, int row, const char *base)
{
	struct jobs_view v;

	jobs_view_read(res, row, &v);
	return jobjson_view(&v, base);
}

static const char *const jobjson_quota_names[] = {
	[JOBS_QUOTA_ACTIVE] = "active",
	[JOBS_QUOTA_CREATES] = "creates_per_hour",
	[JOBS_QUOTA_FILES] = "retained_files",
	[JOBS_QUOTA_BYTES] = "retained_bytes",
};

const char *jobjson_quota_name(enum jobs_quota q)
{
	return q > JOBS_QUOTA_NONE && q <= JOBS_QUOTA_BYTES ? jobjson_quota_names[q] : NULL;
}

static void jobjson_quota_add(struct json_object *o, enum jobs_quota q, long long used,
			      long long limit)
{
	struct json_object *one = json_object_new_object();

	json_object_object_add(one, "used", json_object_new_int64(used));
	json_object_object_add(one, "limit", limit > 0 ? json_object_new_int64(limit) : NULL);
	json_object_object_add(o, jobjson_quota_name(q), one);
}

struct json_object *jobjson_quota(const struct jobs_usage *u, const struct jobs_limits *l)
{
	struct json_object *o = json_object_new_object();

	jobjson_quota_add(o, JOBS_QUOTA_ACTIVE, u->active, l->active);
	jobjson_quota_add(o, JOBS_QUOTA_CREATES, u->creates_hour, l->creates_per_hour);
	jobjson_quota_add(o, JOBS_QUOTA_FILES, u->retained_files, l->retained_files);
	jobjson_quota_add(o, JOBS_QUOTA_BYTES, u->retained_bytes, l->retained_bytes);
	return o;
}

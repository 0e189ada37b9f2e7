#include "jobs/jobjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "jobs/filterspec.h"
#include "jobs/jobs.h"

/* Ran to the end: complete, or complete and since expired (row_count set). */
static int jobjson_finished(const PGresult *res, int row)
{
	const char *status = PQgetvalue(res, row, JOBS_VIEW_STATUS);

	return strcmp(status, "complete") == 0 ||
	       (strcmp(status, "expired") == 0 && db_value(res, row, JOBS_VIEW_ROW_COUNT) != NULL);
}

static struct json_object *jobjson_str(const PGresult *res, int row, int col)
{
	const char *v = db_value(res, row, col);

	return v != NULL ? json_object_new_string(v) : NULL;
}

static struct json_object *jobjson_int(const PGresult *res, int row, int col)
{
	const char *v = db_value(res, row, col);

	return v != NULL ? json_object_new_int64(strtoll(v, NULL, 10)) : NULL;
}

/* Seconds left, extrapolated from the rate so far; NULL when unknown
 * (not started, nothing done yet, or past the planner's estimate). */
static struct json_object *jobjson_eta(const PGresult *res, int row)
{
	const char *status = PQgetvalue(res, row, JOBS_VIEW_STATUS);
	const char *est = db_value(res, row, JOBS_VIEW_ROWS_ESTIMATED);
	const char *ran = db_value(res, row, JOBS_VIEW_RUNNING_FOR);
	long long done = db_int(res, row, JOBS_VIEW_ROWS_DONE), total;
	double eta;

	if (jobjson_finished(res, row)) {
		return json_object_new_int64(0);
	}
	if (strcmp(status, "processing") != 0 || est == NULL || ran == NULL || done <= 0) {
		return NULL;
	}
	total = strtoll(est, NULL, 10);
	if (total <= done) {
		return NULL;
	}
	eta = strtod(ran, NULL) * (double)(total - done) / (double)done;
	if (!(eta >= 0) || eta > 1e9) {
		return NULL;
	}
	return json_object_new_int64((long long)eta + (eta > (double)(long long)eta));
}

static struct json_object *jobjson_progress(const PGresult *res, int row)
{
	struct json_object *p = json_object_new_object();
	long long done = db_int(res, row, JOBS_VIEW_ROWS_DONE);
	const char *est = db_value(res, row, JOBS_VIEW_ROWS_ESTIMATED);
	struct json_object *percent = NULL;
	double pct;

	if (jobjson_finished(res, row)) {
		percent = json_object_new_double(100.0);
	} else if (est != NULL && strtoll(est, NULL, 10) > 0) {
		/* The estimate is the planner's: never claim 100 before the end. */
		pct = 100.0 * (double)done / (double)strtoll(est, NULL, 10);
		pct = pct > 99.9 ? 99.9 : pct;
		percent = json_object_new_double((double)(long long)(pct * 10) / 10);
	}
	json_object_object_add(p, "rows_done", json_object_new_int64(done));
	json_object_object_add(p, "rows_estimated",
			       jobjson_int(res, row, JOBS_VIEW_ROWS_ESTIMATED));
	json_object_object_add(p, "bytes_done",
			       json_object_new_int64(db_int(res, row, JOBS_VIEW_BYTES_DONE)));
	json_object_object_add(p, "percent", percent);
	json_object_object_add(p, "eta_seconds", jobjson_eta(res, row));
	return p;
}

static struct json_object *jobjson_error(const PGresult *res, int row)
{
	struct json_object *e;

	if (db_value(res, row, JOBS_VIEW_ERROR_CODE) == NULL) {
		return NULL;
	}
	e = json_object_new_object();
	json_object_object_add(e, "code", jobjson_str(res, row, JOBS_VIEW_ERROR_CODE));
	json_object_object_add(e, "message", jobjson_str(res, row, JOBS_VIEW_ERROR_MESSAGE));
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

static struct json_object *jobjson_notification(const PGresult *res, int row)
{
	const char *v = db_value(res, row, JOBS_VIEW_NOTIFICATION);

	return v != NULL ? json_tokener_parse(v) : NULL;
}

/* The job's filters in the request's shape (jobs/filterspec.h), so they
 * can be sent again as they are; {} when the stored form is not one. */
static struct json_object *jobjson_filters(const PGresult *res, int row)
{
	struct json_object *out = NULL;
	struct filterspec fs;
	struct buf err;
	enum ex_status st;

	filterspec_init(&fs);
	buf_init(&err, 256);
	st = filterspec_parse(db_value(res, row, JOBS_VIEW_FILTERS), &fs, &err);
	if (st) {
		goto out;
	}
	out = filterspec_request(&fs);
out:
	filterspec_free(&fs);
	buf_free(&err);
	return out != NULL ? out : json_object_new_object();
}

static struct json_object *jobjson_bool(const PGresult *res, int row, int col)
{
	return json_object_new_boolean(PQgetvalue(res, row, col)[0] == 't');
}

static struct json_object *jobjson_csv(const PGresult *res, int row)
{
	struct json_object *c;

	if (strcmp(PQgetvalue(res, row, JOBS_VIEW_FORMAT), "csv") != 0) {
		return NULL;
	}
	c = json_object_new_object();
	json_object_object_add(c, "bom", jobjson_bool(res, row, JOBS_VIEW_CSV_BOM));
	json_object_object_add(c, "formula_guard",
			       jobjson_bool(res, row, JOBS_VIEW_CSV_FORMULA_GUARD));
	return c;
}

static struct json_object *jobjson_checksum(const PGresult *res, int row)
{
	const char *v = db_value(res, row, JOBS_VIEW_CHECKSUM);
	struct json_object *c;

	if (v == NULL || strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64) {
		return NULL;
	}
	c = json_object_new_object();
	json_object_object_add(c, "sha256", json_object_new_string(v));
	return c;
}

struct json_object *jobjson_from_row(const PGresult *res, int row, const char *base)
{
	static const struct {
		const char *name;
		int col;
	} timestamps[] = {
		{"created_at", JOBS_VIEW_CREATED_AT},	  {"started_at", JOBS_VIEW_STARTED_AT},
		{"completed_at", JOBS_VIEW_COMPLETED_AT}, {"expires_at", JOBS_VIEW_EXPIRES_AT},
		{"purged_at", JOBS_VIEW_PURGED_AT},
	};
	struct json_object *j = json_object_new_object();
	const char *cols = db_value(res, row, JOBS_VIEW_COLUMNS);
	size_t i;

	json_object_object_add(j, "id", jobjson_str(res, row, JOBS_VIEW_ID));
	json_object_object_add(j, "type", jobjson_str(res, row, JOBS_VIEW_TYPE));
	json_object_object_add(j, "format", jobjson_str(res, row, JOBS_VIEW_FORMAT));
	json_object_object_add(j, "compression", jobjson_str(res, row, JOBS_VIEW_COMPRESSION));
	json_object_object_add(j, "columns", cols != NULL ? json_tokener_parse(cols) : NULL);
	json_object_object_add(j, "filters", jobjson_filters(res, row));
	json_object_object_add(j, "include_deleted",
			       jobjson_bool(res, row, JOBS_VIEW_INCLUDE_DELETED));
	json_object_object_add(j, "csv", jobjson_csv(res, row));
	json_object_object_add(j, "as_of", jobjson_str(res, row, JOBS_VIEW_AS_OF));
	json_object_object_add(j, "status", jobjson_str(res, row, JOBS_VIEW_STATUS));
	json_object_object_add(j, "progress", jobjson_progress(res, row));
	json_object_object_add(j, "row_count", jobjson_int(res, row, JOBS_VIEW_ROW_COUNT));
	json_object_object_add(j, "file_size", jobjson_int(res, row, JOBS_VIEW_FILE_SIZE));
	json_object_object_add(j, "checksum", jobjson_checksum(res, row));
	json_object_object_add(j, "error", jobjson_error(res, row));
	json_object_object_add(j, "attempts", jobjson_int(res, row, JOBS_VIEW_ATTEMPTS));
	json_object_object_add(j, "notification", jobjson_notification(res, row));
	json_object_object_add(j, "cancel_requested",
			       json_object_new_boolean(
				       PQgetvalue(res, row, JOBS_VIEW_CANCEL_REQUESTED)[0] == 't'));
	for (i = 0; i < sizeof(timestamps) / sizeof(timestamps[0]); i++) {
		json_object_object_add(j, timestamps[i].name,
				       jobjson_str(res, row, timestamps[i].col));
	}
	json_object_object_add(j, "links", jobjson_links(PQgetvalue(res, row, JOBS_VIEW_ID), base));
	return j;
}

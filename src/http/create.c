#include "http/create.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "common/crypto.h"
#include "common/log.h"
#include "db/db.h"
#include "format/format.h"
#include "http/filters.h"
#include "http/jsonbody.h"
#include "http/problem.h"
#include "http/reply.h"
#include "jobs/jobjson.h"
#include "jobs/jobs.h"
#include "jobs/registry.h"
#include "jobs/since.h"

#define CREATE_KEY_MAX 255

/* Is key a valid Idempotency-Key: 1..255 printable ASCII characters? */
static int create_valid_key(const char *key)
{
	size_t i, n = strlen(key);

	if (n < 1 || n > CREATE_KEY_MAX) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (key[i] < 0x20 || key[i] > 0x7e) {
			return 0;
		}
	}
	return 1;
}

static int create_seen(struct json_object *cols, size_t n, const char *name)
{
	const char *other;
	size_t j;

	for (j = 0; j < n; j++) {
		other = jsonbody_string(json_object_array_get_idx(cols, j));
		if (other != NULL && strcmp(other, name) == 0) {
			return 1;
		}
	}
	return 0;
}

static void create_check_columns(struct json_object *cols, const struct registry_type *t,
				 struct problem *p)
{
	char field[64], detail[512], clipped[256];
	const char *name;
	size_t i, n;

	if (!json_object_is_type(cols, json_type_array)) {
		problem_add_field(p, "columns", "must be an array of column names");
		return;
	}
	n = json_object_array_length(cols);
	if (n == 0) {
		problem_add_field(p, "columns", "must name at least one column (omit it for all)");
	}
	for (i = 0; i < n; i++) {
		snprintf(field, sizeof(field), "columns/%lu", (unsigned long)i);
		name = jsonbody_string(json_object_array_get_idx(cols, i));
		if (name == NULL) {
			problem_add_field(p, field, "must be a string (without NUL characters)");
			continue;
		}
		if (t != NULL && registry_column_index(t, name) < 0) {
			problem_clip(name, clipped, sizeof(clipped));
			snprintf(detail, sizeof(detail), "unknown column \"%s\" for type %s",
				 clipped, t->name);
			problem_add_field(p, field, detail);
		} else if (create_seen(cols, i, name)) {
			problem_add_field(p, field, "duplicate column");
		}
	}
}

/* A boolean member; *out unchanged when it is not one. */
static void create_bool(struct json_object *v, const char *parent, const char *name, int *out,
			struct problem *p)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		if (parent != NULL) {
			problem_add_member(p, parent, name, "must be true or false");
		} else {
			problem_add_field(p, name, "must be true or false");
		}
		return;
	}
	*out = json_object_get_boolean(v);
}

static void create_check_csv(struct json_object *csv, struct create_req *req, struct problem *p)
{
	char detail[300], clipped[200];

	if (!json_object_is_type(csv, json_type_object)) {
		problem_add_field(p, "csv",
				  "must be an object: {\"bom\": true|false, \"formula_guard\": "
				  "true|false, \"delimiter\": \",\"|\";\"|\"\\t\"|\"|\"}");
		return;
	}
	json_object_object_foreach(csv, key, val)
	{
		if (strcmp(key, "bom") == 0) {
			create_bool(val, "csv", key, &req->csv_bom, p);
		} else if (strcmp(key, "formula_guard") == 0) {
			create_bool(val, "csv", key, &req->csv_formula_guard, p);
		} else if (strcmp(key, "delimiter") == 0) {
			req->csv_delimiter = jsonbody_string(val);
			if (req->csv_delimiter == NULL ||
			    !format_valid_delimiter(req->csv_delimiter)) {
				problem_add_member(p, "csv", key,
						   "must be \",\", \";\", \"\\t\" or \"|\"");
			}
		} else {
			problem_clip(key, clipped, sizeof(clipped));
			snprintf(detail, sizeof(detail),
				 "unknown CSV option \"%s\" (there are bom, formula_guard and "
				 "delimiter)",
				 clipped);
			problem_add_member(p, "csv", key, detail);
		}
	}
}

/* One member of the body; only the shape is judged here. */
static void create_member(const char *key, struct json_object *val, struct create_req *req,
			  struct problem *p)
{
	char detail[300], clipped[256];
	enum format_compression comp;

	if (strcmp(key, "type") == 0) {
		req->type = jsonbody_string(val);
		if (req->type == NULL) {
			problem_add_field(p, key, "must be a string (without NUL characters)");
		}
	} else if (strcmp(key, "format") == 0) {
		req->format = jsonbody_string(val);
		if (req->format == NULL) {
			problem_add_field(p, key, "must be \"csv\", \"jsonl\" or \"xlsx\"");
		}
	} else if (strcmp(key, "compression") == 0) {
		req->compression = jsonbody_string(val);
		if (req->compression == NULL || format_parse_compression(req->compression, &comp)) {
			problem_add_field(p, key, "must be \"none\", \"gzip\" or \"zstd\"");
		}
	} else if (strcmp(key, "timezone") == 0) {
		req->timezone = jsonbody_string(val);
		if (req->timezone == NULL || req->timezone[0] == '\0') {
			problem_add_field(p, key,
					  "must be an IANA time zone name such as "
					  "\"Europe/Paris\"");
		}
	} else if (strcmp(key, "header") == 0) {
		req->header = jsonbody_string(val);
		if (req->header == NULL ||
		    (strcmp(req->header, "names") != 0 && strcmp(req->header, "labels") != 0)) {
			problem_add_field(p, key, "must be \"names\" or \"labels\"");
		}
	} else if (strcmp(key, "since") == 0) {
		req->since = jsonbody_string(val);
		if (req->since == NULL || req->since[0] == '\0') {
			problem_add_field(p, key,
					  "must be a cursor: the next_since of a complete export");
		}
	} else if (strcmp(key, "columns") == 0) {
		req->columns = val;
	} else if (strcmp(key, "filters") == 0) {
		req->filters = val;
	} else if (strcmp(key, "include_deleted") == 0) {
		create_bool(val, NULL, key, &req->include_deleted, p);
	} else if (strcmp(key, "csv") == 0) {
		req->csv = val;
		create_check_csv(val, req, p);
	} else {
		problem_clip(key, clipped, sizeof(clipped));
		snprintf(detail, sizeof(detail), "unknown field \"%s\"", clipped);
		problem_add_field(p, key, detail);
	}
}

static void create_check_format(struct create_req *req, struct problem *p)
{
	enum format_kind kind;
	enum ex_status st;

	if (req->format == NULL) {
		return;
	}
	st = format_parse_kind(req->format, &kind);
	if (st) {
		problem_add_field(p, "format", "must be \"csv\", \"jsonl\" or \"xlsx\"");
	} else if (strcmp(req->format, "csv") != 0) {
		if (req->csv != NULL) {
			problem_add_field(p, "csv", "CSV options apply to format \"csv\" only");
		}
		/* JSON Lines keys are the column names, whatever the labels. */
		if (kind == FORMAT_JSONL && req->header != NULL &&
		    strcmp(req->header, "names") != 0) {
			problem_add_field(p, "header",
					  "labels apply to formats \"csv\" and \"xlsx\" only");
		}
	}
	/* An XLSX is a ZIP archive: compressing it again gains nothing. */
	if (!st && kind == FORMAT_XLSX && req->compression != NULL &&
	    strcmp(req->compression, "none") != 0) {
		problem_add_field(p, "compression", "an XLSX is not compressed: use \"none\"");
	}
}

void create_req_init(struct create_req *req)
{
	memset(req, 0, sizeof(*req));
}

void create_req_free(struct create_req *req)
{
	if (req->has_type) {
		registry_free(&req->t);
	}
	free(req->stored_filters);
	json_object_put(req->body);
	create_req_init(req);
}

void create_judge(const char *raw, size_t len, struct create_req *req, struct problem *p)
{
	const char *why;

	req->body = jsonbody_parse(raw, len, &why);
	if (req->body == NULL) {
		problem_init(p, 400, "invalid-body", "Bad Request", why);
		problem_add_field(p, "", why);
		return;
	}
	problem_init(p, 400, "invalid-field", "Bad Request", "the request has invalid fields");
	json_object_object_foreach(req->body, key, val)
	{
		create_member(key, val, req, p);
	}
	create_check_format(req, p);
	if (!json_object_object_get_ex(req->body, "type", NULL)) {
		problem_add_field(p, "type", "is required");
	}
}

void create_judge_columns(const struct create_req *req, const struct registry_type *t,
			  struct problem *p)
{
	if (req->columns != NULL) {
		create_check_columns(req->columns, t, p);
	}
}

/* The type: loaded into req->t (has_type set) or a fault in p.  EX_OK:
 * checked; else the database failed. */
static enum ex_status create_load_type(struct app *app, struct create_req *req, struct problem *p,
				       struct buf *err)
{
	char detail[300], clipped[256];
	enum ex_status st;

	if (req->type == NULL) {
		return EX_OK; /* missing or not a string: create_judge said so */
	}
	st = registry_load(app->conn, req->type, &req->t, err);
	if (st == EX_ENOTFOUND) {
		problem_clip(req->type, clipped, sizeof(clipped));
		snprintf(detail, sizeof(detail), "unknown export type \"%s\"", clipped);
		problem_add_field(p, "type", detail);
		return EX_OK;
	}
	if (st) {
		return st;
	}
	req->has_type = 1;
	return EX_OK;
}

/* timezone: a name of pg_timezone_names (what SET TimeZone would also
 * take, abbreviations and POSIX strings, is not enough: the migration's
 * trigger holds plain-SQL jobs to the same list). */
static enum ex_status create_check_timezone(struct app *app, const struct create_req *req,
					    struct problem *p, struct buf *err)
{
	char detail[300], clipped[200];
	enum ex_status st;
	int known = 0;

	if (req->timezone == NULL || req->timezone[0] == '\0') {
		return EX_OK;
	}
	st = registry_timezone_known(app->conn, req->timezone, &known, err);
	if (st) {
		return st;
	}
	if (!known) {
		problem_clip(req->timezone, clipped, sizeof(clipped));
		snprintf(detail, sizeof(detail),
			 "unknown time zone \"%s\": must be an IANA name of PostgreSQL's "
			 "pg_timezone_names such as \"Europe/Paris\"",
			 clipped);
		problem_add_field(p, "timezone", detail);
	}
	return EX_OK;
}

/* The cursor's position against the type's source: st is
 * registry_since_check()'s; a source that cannot be read is the job's
 * failure when it runs, as with the as-of key. */
static enum ex_status create_since_position(enum ex_status st, struct problem *p, struct buf *why)
{
	char detail[600];

	if (st == EX_EINVAL) {
		snprintf(detail, sizeof(detail), "is not a valid cursor: %s", buf_str(why));
		problem_add_field(p, "since", detail);
		return EX_OK;
	}
	return st == EX_EPERM ? EX_OK : st;
}

/* since: a cursor exportd gave out for this type and workspace, of a type
 * with an updated_at_column; its position must read as the type's values. */
static enum ex_status create_check_since(struct app *app, const struct create_req *req,
					 const struct auth *who, struct problem *p, struct buf *err)
{
	struct since_cursor c = {NULL, NULL, NULL, NULL};
	struct buf why;
	char detail[300];
	enum ex_status st = EX_OK;

	if (req->since == NULL || req->since[0] == '\0' || !req->has_type) {
		return EX_OK;
	}
	buf_init(&why, 512);
	if (req->t.updated_at_column == NULL) {
		snprintf(detail, sizeof(detail),
			 "type %s has no updated_at_column: it is only exported whole",
			 req->t.name);
		problem_add_field(p, "since", detail);
		goto out;
	}
	st = since_decode(req->since, &c, &why);
	if (st == EX_OK) {
		st = since_check(&c, req->type, who->workspace, &why);
	}
	if (st == EX_EINVAL) {
		problem_add_field(p, "since", buf_str(&why));
		st = EX_OK;
		goto out;
	}
	if (st) {
		goto out;
	}
	st = registry_since_check(app->conn, &req->t, c.at, c.key, &why);
	st = create_since_position(st, p, &why);
	if (st) {
		buf_msg(err, "%s", buf_str(&why));
	}
out:
	since_free(&c);
	buf_free(&why);
	return st;
}

/* What needs the database: the type, then the columns, filters and cursor
 * against it.  EX_OK: checked (faults in p); else the database failed. */
static enum ex_status create_check(struct app *app, struct create_req *req, const struct auth *who,
				   struct problem *p, struct buf *err)
{
	enum ex_status st;

	st = create_load_type(app, req, p, err);
	if (st) {
		return st;
	}
	st = create_check_timezone(app, req, p, err);
	if (st) {
		return st;
	}
	create_judge_columns(req, req->has_type ? &req->t : NULL, p);
	st = create_check_since(app, req, who, p, err);
	if (st) {
		return st;
	}
	if (req->filters == NULL || !req->has_type) {
		return EX_OK;
	}
	return filters_check(app->conn, &req->t, req->filters, p, &req->stored_filters, err);
}

/* 422 naming the key's workspace, err saying why: it is not the type's
 * canonical spelling, or PostgreSQL refused it on the way in (SQLSTATE
 * class 22, the request's fault and not the server's: the workspace is
 * the only value of the request cast there). */
static void create_refused(struct http_request *r, const struct buf *err)
{
	struct problem p;

	problem_init(&p, 422, "invalid-workspace", "Unprocessable Content",
		     "this key's workspace cannot export this type");
	problem_add_outside(&p, "workspace", "api_key", buf_str(err));
	problem_send(&p, r, "");
}

/* The key's workspace must be the canonical text of the type's tenant
 * column (jobs/registry.h): else 422 naming it, and 0. */
static int create_workspace_ok(struct app *app, struct http_request *r, const struct auth *who,
			       const struct create_req *req)
{
	struct buf err;
	enum ex_status st;

	buf_init(&err, 4096);
	st = registry_workspace_check(app->conn, req->type, who->workspace, &err);
	if (st == EX_EINVAL) {
		create_refused(r, &err);
	} else if (st) {
		reply_db_error(app, r, &err);
	}
	buf_free(&err);
	return st == EX_OK;
}

static void create_key_reused(struct http_request *r, const PGresult *res)
{
	char detail[300];
	struct jobs_view v;

	jobs_view_read(res, 0, &v);
	snprintf(detail, sizeof(detail),
		 "this Idempotency-Key was used in the last 24 hours with a different request "
		 "body (export %s); send that body again, or use a new key for a new export",
		 v.id);
	problem_reply(r, 422, "idempotency-key-reused", "Idempotency-Key reused", detail, "");
}

static void create_at_limit(struct http_request *r, const struct jobs_usage *u,
			    const struct jobs_limits *l)
{
	char detail[300], extra[64];
	struct problem p;

	snprintf(detail, sizeof(detail),
		 "the workspace already has %lld exports pending or processing (at most %lld); "
		 "retry when one has finished, or cancel one",
		 u->active, l->active);
	problem_init(&p, 429, "too-many-active-exports", "Too Many Requests", detail);
	json_object_object_add(p.body, "limit", json_object_new_int64(l->active));
	json_object_object_add(p.body, "active_count", json_object_new_int64(u->active));
	json_object_object_add(p.body, "active_jobs", json_tokener_parse(u->ids_json));
	snprintf(extra, sizeof(extra), "Retry-After: %lld\r\n", u->retry_after);
	problem_send(&p, r, extra);
}

/* What a quota-exceeded answer says, by quota: why, and when it may pass
 * (DB_NULL: no time can be told). */
static const char *create_quota_detail(enum jobs_quota q, const struct jobs_usage *u,
				       long long *retry_after)
{
	if (q == JOBS_QUOTA_CREATES) {
		*retry_after = u->creates_retry_after;
		return "the workspace has created as many exports in the last hour as it may; "
		       "retry after Retry-After seconds, when enough of them are an hour old";
	}
	*retry_after = u->retained_retry_after;
	return q == JOBS_QUOTA_FILES
		       ? "the workspace keeps as many finished exports as it may; delete one "
			 "(DELETE /exports/{id}) or retry when one has expired"
		       : "the workspace's finished exports take as many bytes as it may keep; "
			 "delete one (DELETE /exports/{id}) or retry when one has expired";
}

/* 429 quota-exceeded naming the quota, the workspace's usage and the
 * limit (README "Quotas"); nothing already stored is touched. */
static void create_over_quota(struct http_request *r, enum jobs_quota q, const struct jobs_usage *u,
			      const struct jobs_limits *l)
{
	struct json_object *all = jobjson_quota(u, l), *one = NULL, *v = NULL;
	const char *name = jobjson_quota_name(q);
	long long retry_after = DB_NULL;
	char extra[64] = "";
	struct problem p;

	problem_init(&p, 429, "quota-exceeded", "Too Many Requests",
		     create_quota_detail(q, u, &retry_after));
	json_object_object_add(p.body, "quota", json_object_new_string(name));
	json_object_object_get_ex(all, name, &one);
	json_object_object_get_ex(one, "used", &v);
	json_object_object_add(p.body, "usage", json_object_get(v));
	json_object_object_get_ex(one, "limit", &v);
	json_object_object_add(p.body, "limit", json_object_get(v));
	json_object_put(all);
	if (retry_after != DB_NULL) {
		snprintf(extra, sizeof(extra), "Retry-After: %lld\r\n", retry_after);
	}
	problem_send(&p, r, extra);
}

/* The answer to JOBS_AT_LIMIT: the first limit the usage row reached. */
static void create_refuse(struct http_request *r, const PGresult *res, const struct jobs_limits *l)
{
	struct jobs_usage u;
	enum jobs_quota q;

	jobs_usage_read(res, &u);
	q = jobs_usage_over(&u, l);
	if (q == JOBS_QUOTA_ACTIVE) {
		create_at_limit(r, &u, l);
	} else {
		create_over_quota(r, q, &u, l);
	}
}

static void create_fill(const struct app *app, const struct auth *who, const struct create_req *req,
			const char *id, const char *sha, struct http_request *r, struct jobs_new *j)
{
	memset(j, 0, sizeof(*j));
	j->id = id;
	j->workspace = who->workspace;
	j->email = who->email;
	j->api_key_id = who->key_id[0] != '\0' ? who->key_id : NULL; /* "": an embed token */
	j->type = req->type;
	j->format = req->format != NULL ? req->format : "csv";
	j->compression = req->compression != NULL ? req->compression : "none";
	j->columns_json =
		req->columns != NULL
			? json_object_to_json_string_ext(req->columns, JSON_C_TO_STRING_PLAIN)
			: NULL;
	j->filters_json = req->stored_filters != NULL ? req->stored_filters : "{}";
	j->include_deleted = req->include_deleted;
	j->csv_bom = req->csv_bom;
	j->csv_formula_guard = req->csv_formula_guard;
	j->csv_delimiter = req->csv_delimiter != NULL ? req->csv_delimiter : ",";
	j->timezone = req->timezone != NULL ? req->timezone : "UTC";
	j->header = req->header != NULL ? req->header : "names";
	j->since = req->since;
	j->idempotency_key = r->idempotency_key;
	j->body_sha256 = sha;
	j->source = &req->t;
	jobs_limits_from(app->cf, &j->limits);
}

static void create_insert(struct app *app, struct http_request *r, const struct auth *who,
			  const struct create_req *req, const struct buf *raw)
{
	char id[JOBS_ID_LEN + 1], sha[CRYPTO_SHA256_HEX_LEN + 1], extra[700];
	enum jobs_outcome outcome = JOBS_CREATED;
	PGresult *res = NULL;
	struct jobs_view v;
	struct jobs_new j;
	struct buf err;
	enum ex_status st;
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, id);
	crypto_sha256_hex(raw->data != NULL ? raw->data : "", raw->len, sha);
	create_fill(app, who, req, id, sha, r, &j);
	buf_init(&err, 4096);
	st = jobs_create(app->conn, &j, &outcome, &res, &err);
	if (st == EX_EINVAL) {
		create_refused(r, &err);
		goto out;
	}
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	if (outcome == JOBS_KEY_MISMATCH) {
		create_key_reused(r, res);
		goto out;
	}
	if (outcome == JOBS_AT_LIMIT) {
		create_refuse(r, res, &j.limits);
		goto out;
	}
	jobs_view_read(res, 0, &v);
	snprintf(extra, sizeof(extra), "Location: %s/exports/%s\r\n%s", app->cf->http_base_path,
		 v.id, outcome == JOBS_REPLAYED ? "Idempotent-Replayed: true\r\n" : "");
	log_info("request %s: job %s %s (workspace %s, type %s)", r->id, v.id,
		 outcome == JOBS_REPLAYED ? "replayed (Idempotency-Key)" : "created",
		 who->workspace, req->type);
	reply_job(app, r, res, 202, extra);
out:
	PQclear(res);
	buf_free(&err);
}

/* 415, a bad Idempotency-Key, 413: what is judged before the body is. */
static int create_precheck(struct app *app, struct http_request *r, struct buf *raw)
{
	struct problem p;

	if (!jsonbody_type_ok(r->content_type)) {
		problem_reply(r, 415, "unsupported-media-type", "Unsupported Media Type",
			      "send the request body as application/json",
			      "Accept-Post: application/json\r\n");
		return 0;
	}
	if (r->idempotency_key != NULL && !create_valid_key(r->idempotency_key)) {
		problem_init(&p, 400, "invalid-header", "Bad Request",
			     "the request has an invalid header");
		problem_add_header(&p, "Idempotency-Key",
				   "must be 1 to 255 printable ASCII characters");
		problem_send(&p, r, "");
		return 0;
	}
	return jsonbody_read(app, r, raw);
	return 1;
}

void create_handle(struct app *app, struct http_request *r, const struct auth *who, const char *id)
{
	struct create_req req;
	struct problem p;
	struct buf raw, err;
	enum ex_status st;

	(void)id;
	create_req_init(&req);
	buf_init(&raw, (size_t)app->cf->http_body_limit);
	buf_init(&err, 4096);
	if (!create_precheck(app, r, &raw)) {
		goto out;
	}
	create_judge(buf_str(&raw), raw.len, &req, &p);
	if (req.body == NULL) {
		problem_send(&p, r, "");
		goto out;
	}
	st = create_check(app, &req, who, &p, &err);
	if (st) {
		problem_free(&p);
		reply_db_error(app, r, &err);
		goto out;
	}
	if (problem_has_errors(&p)) {
		problem_send(&p, r, "");
		goto out;
	}
	problem_free(&p);
	if (create_workspace_ok(app, r, who, &req)) {
		create_insert(app, r, who, &req, &raw);
	}
out:
	create_req_free(&req);
	buf_free(&raw);
	buf_free(&err);
}

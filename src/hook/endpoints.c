/* endpoints.c - owns export_webhooks (see endpoints.h). */
#include "hook/endpoints.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "db/db.h"
#include "hook/endpoints_sql.h"

const char *const endpoints_events[ENDPOINTS_NEVENTS] = {"export.completed", "export.failed",
							 "export.cancelled", "export.expired"};

static const char *const endpoints_columns[] = {"id", "url", "events", "created_at", "workspace"};

int endpoints_event_valid(const char *name)
{
	size_t i;

	for (i = 0; i < ENDPOINTS_NEVENTS; i++) {
		if (strcmp(name, endpoints_events[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

/* The parts of a parsed URL that decide; NULL when it has a part it must
 * not have or lacks one it needs. */
static const char *endpoints_url_parts(const struct config *cf, CURLU *u)
{
	char *scheme = NULL, *host = NULL, *user = NULL;
	const char *why = NULL;

	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	if (scheme == NULL || (strcmp(scheme, "https") != 0 &&
			       !(cf->webhooks_allow_http && strcmp(scheme, "http") == 0))) {
		why = cf->webhooks_allow_http ? "must be an https:// or http:// URL"
					      : "must be an https:// URL";
	} else if (host == NULL || host[0] == '\0') {
		why = "must name a host";
	} else if (user != NULL) {
		why = "must not hold credentials";
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	return why;
}

const char *endpoints_url_problem(const struct config *cf, const char *url)
{
	CURLU *u;
	const char *why;

	if (strlen(url) > ENDPOINTS_URL_MAX) {
		return "must be at most 2048 bytes";
	}
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		return cf->webhooks_allow_http ? "must be an https:// or http:// URL"
					       : "must be an https:// URL";
	}
	u = curl_url();
	if (u == NULL) {
		return "could not be parsed (out of memory)";
	}
	why = curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ? "is not a valid URL"
								  : endpoints_url_parts(cf, u);
	curl_url_cleanup(u);
	return why;
}

/* Check that every column the view promises is there. */
static enum ex_status endpoints_exec(PGconn *conn, const char *sql, int n,
				     const char *const *params, PGresult **res, struct buf *err)
{
	size_t i;
	enum ex_status st;

	st = db_exec(conn, sql, n, params, res, err);
	for (i = 0; !st && i < sizeof(endpoints_columns) / sizeof(endpoints_columns[0]); i++) {
		if (PQfnumber(*res, endpoints_columns[i]) < 0) {
			buf_msg(err, "endpoint view lacks column %s", endpoints_columns[i]);
			PQclear(*res);
			*res = NULL;
			st = EX_EDB;
		}
	}
	return st;
}

/* A statement that changes one row: EX_ENOTFOUND when none matched. */
static enum ex_status endpoints_one(PGconn *conn, const char *sql, int n, const char *const *params,
				    PGresult **res, struct buf *err)
{
	enum ex_status st = endpoints_exec(conn, sql, n, params, res, err);

	if (!st && PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		st = EX_ENOTFOUND;
	}
	return st;
}

enum ex_status endpoints_create(PGconn *conn, const char *workspace, long long max, const char *url,
				const char *const *events, size_t n,
				char secret[ENDPOINTS_SECRET_LEN + 1], PGresult **res,
				struct buf *err)
{
	struct buf list;
	char limit[32];
	const char *params[5];
	size_t i;
	enum ex_status st;

	snprintf(secret, ENDPOINTS_SECRET_LEN + 1, "whsec_");
	st = crypto_random_hex(secret + 6, 32);
	if (st) {
		buf_msg(err, "%s", "no random bytes for the signing secret");
		return st;
	}
	buf_init(&list, 256);
	st = buf_puts(&list, "{");
	for (i = 0; !st && i < n; i++) {
		st = buf_printf(&list, "%s%s", i > 0 ? "," : "", events[i]);
	}
	if (!st) {
		st = buf_puts(&list, "}");
	}
	if (!st) {
		params[0] = workspace;
		params[1] = url;
		params[2] = buf_str(&list);
		params[3] = secret;
		params[4] = limit;
		snprintf(limit, sizeof(limit), "%lld", max);
		st = endpoints_one(conn, endpoints_insert_sql, 5, params, res, err);
	}
	if (st == EX_ENOTFOUND) {
		buf_msg(err,
			"the workspace has %lld webhooks, the most webhooks.max_per_workspace "
			"allows",
			max);
		st = EX_ELIMIT;
	}
	buf_free(&list);
	return st;
}

enum ex_status endpoints_list(PGconn *conn, const char *workspace, PGresult **res, struct buf *err)
{
	const char *params[1] = {workspace};

	return endpoints_exec(conn, endpoints_list_sql, 1, params, res, err);
}

enum ex_status endpoints_delete(PGconn *conn, const char *workspace, const char *id, PGresult **res,
				struct buf *err)
{
	const char *params[2] = {workspace, id};

	return endpoints_one(conn, endpoints_delete_sql, 2, params, res, err);
}

enum ex_status endpoints_admin_list(PGconn *conn, const char *workspace, PGresult **res,
				    struct buf *err)
{
	const char *params[1] = {workspace};

	return endpoints_exec(conn, endpoints_admin_list_sql, 1, params, res, err);
}

enum ex_status endpoints_admin_delete(PGconn *conn, const char *id, PGresult **res, struct buf *err)
{
	const char *params[1] = {id};

	return endpoints_one(conn, endpoints_admin_delete_sql, 1, params, res, err);
}

struct json_object *endpoints_json(const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();
	const char *events = db_text(res, row, "events");

	json_object_object_add(o, "id", json_object_new_string(db_text(res, row, "id")));
	json_object_object_add(o, "url", json_object_new_string(db_text(res, row, "url")));
	json_object_object_add(o, "events", events != NULL ? json_tokener_parse(events) : NULL);
	json_object_object_add(o, "created_at",
			       json_object_new_string(db_text(res, row, "created_at")));
	return o;
}

const char *endpoints_workspace(const PGresult *res, int row)
{
	return db_text(res, row, "workspace");
}

/* webhooks.c - the webhook endpoint routes (see webhooks.h). */
#include "http/webhooks.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "hook/endpoints.h"
#include "http/jsonbody.h"
#include "http/problem.h"
#include "http/reply.h"

/* A body's fields, checked. */
struct webhooks_req {
	const char *url;
	const char *events[ENDPOINTS_NEVENTS];
	size_t nevents;
};

static void webhooks_events(struct json_object *v, struct webhooks_req *req, struct problem *p)
{
	const char *ev;
	size_t i, j, n;

	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
		problem_add_field(p, "events", "must be a non-empty array of event names");
		return;
	}
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		ev = jsonbody_string(json_object_array_get_idx(v, i));
		if (ev == NULL || !endpoints_event_valid(ev)) {
			problem_add_field(p, "events",
					  "each must be one of export.completed, export.failed, "
					  "export.cancelled, export.expired");
			return;
		}
		for (j = 0; j < req->nevents && strcmp(req->events[j], ev) != 0; j++) {
		}
		if (j == req->nevents) {
			req->events[req->nevents++] = ev;
		}
	}
}

static void webhooks_member(const struct config *cf, const char *key, struct json_object *val,
			    struct webhooks_req *req, struct problem *p)
{
	char detail[300], clipped[256];
	const char *why;

	if (strcmp(key, "url") == 0) {
		req->url = jsonbody_string(val);
		why = req->url == NULL ? "must be a string" : endpoints_url_problem(cf, req->url);
		if (why != NULL) {
			problem_add_field(p, key, why);
		}
	} else if (strcmp(key, "events") == 0) {
		webhooks_events(val, req, p);
	} else {
		problem_clip(key, clipped, sizeof(clipped));
		snprintf(detail, sizeof(detail), "unknown field \"%s\"", clipped);
		problem_add_field(p, key, detail);
	}
}

/* Judge the body into req; 0 when the request is answered (400). */
static int webhooks_judge(const struct config *cf, struct http_request *r, const struct buf *raw,
			  struct json_object **body, struct webhooks_req *req)
{
	struct problem p;
	const char *why;
	size_t i;

	*body = jsonbody_parse(buf_str(raw), strlen(buf_str(raw)), &why);
	if (*body == NULL) {
		problem_init(&p, 400, "invalid-body", "Bad Request", why);
		problem_add_field(&p, "", why);
		problem_send(&p, r, "");
		return 0;
	}
	problem_init(&p, 400, "invalid-field", "Bad Request", "the request has invalid fields");
	json_object_object_foreach(*body, key, val)
	{
		webhooks_member(cf, key, val, req, &p);
	}
	if (!json_object_object_get_ex(*body, "url", NULL)) {
		problem_add_field(&p, "url", "is required");
	}
	if (!json_object_object_get_ex(*body, "events", NULL)) {
		for (i = 0; i < ENDPOINTS_NEVENTS; i++) {
			req->events[i] = endpoints_events[i];
		}
		req->nevents = ENDPOINTS_NEVENTS;
	}
	if (problem_has_errors(&p)) {
		problem_send(&p, r, "");
		return 0;
	}
	problem_free(&p);
	return 1;
}

/* 201 with the new endpoint and, this once, its secret. */
static void webhooks_created(const struct app *app, struct http_request *r, const PGresult *res,
			     const char *secret)
{
	struct json_object *o = endpoints_json(res, 0);
	char extra[256];
	const char *id = json_object_get_string(json_object_object_get(o, "id"));

	json_object_object_add(o, "secret", json_object_new_string(secret));
	snprintf(extra, sizeof(extra), "Location: %s/webhooks/%s\r\nCache-Control: no-store\r\n",
		 app->cf->http_base_path, id);
	log_info("request %s: webhook %s registered", r->id, id);
	request_send_json(r, 201, extra, o);
	json_object_put(o);
}

void webhooks_create(struct app *app, struct http_request *r, const struct auth *who,
		     const char *id)
{
	char secret[ENDPOINTS_SECRET_LEN + 1], detail[160];
	struct webhooks_req req;
	struct json_object *body = NULL;
	PGresult *res = NULL;
	struct buf raw, err;
	enum ex_status st;

	(void)id;
	memset(&req, 0, sizeof(req));
	buf_init(&raw, (size_t)app->cf->http_body_limit);
	buf_init(&err, 4096);
	if (!jsonbody_type_ok(r->content_type)) {
		problem_reply(r, 415, "unsupported-media-type", "Unsupported Media Type",
			      "send the request body as application/json",
			      "Accept-Post: application/json\r\n");
		goto out;
	}
	if (!jsonbody_read(app, r, &raw) || !webhooks_judge(app->cf, r, &raw, &body, &req)) {
		goto out;
	}
	st = endpoints_create(app->conn, who->workspace, app->cf->webhooks_max_per_workspace,
			      req.url, req.events, req.nevents, secret, &res, &err);
	if (st == EX_ELIMIT) {
		snprintf(detail, sizeof(detail), "%s; remove one first", buf_str(&err));
		problem_reply(r, 409, "too-many-webhooks", "Conflict", detail, "");
		goto out;
	}
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	webhooks_created(app, r, res, secret);
out:
	memset(secret, 0, sizeof(secret));
	json_object_put(body);
	PQclear(res);
	buf_free(&raw);
	buf_free(&err);
}

void webhooks_list(struct app *app, struct http_request *r, const struct auth *who, const char *id)
{
	struct json_object *body, *data;
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;
	int i;

	(void)id;
	buf_init(&err, 4096);
	st = endpoints_list(app->conn, who->workspace, &res, &err);
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	body = json_object_new_object();
	data = json_object_new_array();
	for (i = 0; i < PQntuples(res); i++) {
		json_object_array_add(data, endpoints_json(res, i));
	}
	json_object_object_add(body, "data", data);
	request_send_json(r, 200, "Cache-Control: no-store\r\n", body);
	json_object_put(body);
out:
	PQclear(res);
	buf_free(&err);
}

void webhooks_delete(struct app *app, struct http_request *r, const struct auth *who,
		     const char *id)
{
	struct json_object *o;
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;

	buf_init(&err, 4096);
	st = endpoints_delete(app->conn, who->workspace, id, &res, &err);
	if (st == EX_ENOTFOUND) {
		reply_not_found(r, "no such webhook");
		goto out;
	}
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	log_info("request %s: webhook %s removed", r->id, id);
	o = endpoints_json(res, 0);
	request_send_json(r, 200, "", o);
	json_object_put(o);
out:
	PQclear(res);
	buf_free(&err);
}

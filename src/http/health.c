/* health.c - GET /healthz (see health.h). */
#include "http/health.h"

#include <json-c/json.h>

#include "db/db.h"
#include "http/reply.h"

void health_handle(struct app *app, struct http_request *r, const struct auth *who, const char *id)
{
	struct json_object *body = NULL;
	struct buf err;
	enum ex_status st;

	(void)who;
	(void)id;
	buf_init(&err, 4096);
	st = db_exec(app->conn, "SELECT 1", 0, NULL, NULL, &err);
	if (st) {
		reply_unavailable(r, "healthz", &err);
		goto out;
	}
	body = json_object_new_object();
	json_object_object_add(body, "status", json_object_new_string("ok"));
	request_send_json(r, 200, "Cache-Control: no-store\r\n", body);
out:
	json_object_put(body);
	buf_free(&err);
}

/* reply.c - answers shared by every route (see reply.h). */
#include "http/reply.h"

#include "common/log.h"
#include "db/db.h"
#include "http/problem.h"
#include "jobs/jobjson.h"

void reply_job(const struct app *app, struct http_request *r, const PGresult *res, int status,
	       const char *extra)
{
	struct json_object *j = jobjson_from_row(res, 0, app->cf->http_base_path);

	request_send_json(r, status, extra, j);
	json_object_put(j);
}

void reply_not_found(struct http_request *r, const char *detail)
{
	problem_reply(r, 404, "not-found", "Not Found", detail, "");
}

void reply_unauthorized(struct http_request *r, const char *detail)
{
	problem_reply(r, 401, "unauthorized", "Unauthorized", detail,
		      "WWW-Authenticate: Bearer realm=\"exportd\"\r\n");
}

void reply_unavailable(struct http_request *r, const char *what, const struct buf *err)
{
	log_error("request %s: %s: %s", r->id, what, buf_str(err));
	problem_reply(r, 503, "unavailable", "Service Unavailable",
		      "the database is not reachable; try again shortly", "Retry-After: 5\r\n");
}

/* A query we wrote failing is our bug, but the client still gets a problem
 * body and the process lives on. */
void reply_db_error(const struct app *app, struct http_request *r, const struct buf *err)
{
	reply_unavailable(r, db_ok(app->conn) ? "query failed" : "connection lost", err);
}

void reply_internal(struct http_request *r, const char *what, const struct buf *err)
{
	log_error("request %s: %s: %s", r->id, what, buf_str(err));
	problem_reply(r, 500, "internal", "Internal Server Error",
		      "the server could not produce this answer; the fault is logged", "");
}

/* deliveries.c - owns export_webhook_deliveries (see deliveries.h). */
#include "hook/deliveries.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/counter.h"
#include "common/log.h"
#include "db/db.h"
#include "hook/deliveries_sql.h"
#include "hook/sender.h"
#include "hook/signature.h"
#include "jobs/jobjson.h"
#include "jobs/jobs.h"

/* A locked outbox row with what sending it needs. */
struct deliveries_row {
	const char *id, *job_id, *event, *workspace, *url, *secret, *created;
	int attempts;
	long long horizon_left_ms;
};

#define DELIVERIES_ROW(name, kind, member)                                                         \
	{                                                                                          \
		name, kind, offsetof(struct deliveries_row, member)                                \
	}
static const struct db_field deliveries_fields[] = {
	DELIVERIES_ROW("id", DB_TEXT, id),
	DELIVERIES_ROW("job_id", DB_TEXT, job_id),
	DELIVERIES_ROW("event", DB_TEXT, event),
	DELIVERIES_ROW("workspace", DB_TEXT, workspace),
	DELIVERIES_ROW("url", DB_TEXT, url),
	DELIVERIES_ROW("secret", DB_TEXT, secret),
	DELIVERIES_ROW("created", DB_TEXT, created),
	DELIVERIES_ROW("attempts", DB_INT, attempts),
	DELIVERIES_ROW("horizon_left_ms", DB_LLONG, horizon_left_ms),
};
#define DELIVERIES_NFIELDS (sizeof(deliveries_fields) / sizeof(deliveries_fields[0]))

/* The event's body as the receiver gets it, into out. */
static enum ex_status deliveries_body(PGconn *conn, const struct config *cf,
				      const struct deliveries_row *row, struct buf *out,
				      struct buf *err)
{
	struct json_object *body = NULL;
	PGresult *job = NULL;
	enum ex_status st;

	/* The job cannot be gone: deleting it would wait for our row lock. */
	st = jobs_get(conn, row->workspace, row->job_id, &job, err);
	if (st == EX_ENOTFOUND) {
		buf_msg(err, "job %s of webhook event %s not found", row->job_id, row->id);
		st = EX_EDB;
	}
	if (st) {
		goto out;
	}
	body = json_object_new_object();
	json_object_object_add(body, "id", json_object_new_string(row->id));
	json_object_object_add(body, "type", json_object_new_string(row->event));
	json_object_object_add(body, "created", json_object_new_string(row->created));
	json_object_object_add(body, "data", jobjson_from_row(job, 0, cf->http_base_path));
	st = buf_puts(out, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	if (st) {
		buf_msg(err, "webhook event %s: the body is too large", row->id);
	}
out:
	json_object_put(body);
	PQclear(job);
	return st;
}

/* When to try again after attempt number attempts, or -1: give up. */
static long long deliveries_retry_in(const struct config *cf, const struct deliveries_row *row,
				     const struct sender_result *r)
{
	long long delay;

	if (r->retry_after_ms >= 0) {
		delay = r->retry_after_ms < cf->webhooks_retry_max_ms ? r->retry_after_ms
								      : cf->webhooks_retry_max_ms;
	} else {
		delay = backoff_jitter_ms(cf->webhooks_retry_base_ms, cf->webhooks_retry_max_ms,
					  row->attempts + 1);
	}
	return delay > row->horizon_left_ms ? -1 : delay;
}

/* Write the attempt's outcome on the locked row and count it. */
static enum ex_status deliveries_record(PGconn *conn, const struct config *cf,
					const struct deliveries_row *row,
					const struct sender_result *r, struct buf *err)
{
	long long retry = 0;
	const char *status = "delivered", *outcome = "outcome=\"delivered\"";
	char in[32], code[16], why[320];
	const char *params[5] = {row->id, status, NULL, r->status > 0 ? code : NULL, in};
	enum ex_status st;

	snprintf(code, sizeof(code), "%d", r->status);
	snprintf(why, sizeof(why), "%s", r->error);
	if (r->outcome == SENDER_RETRY) {
		retry = deliveries_retry_in(cf, row, r);
		status = retry >= 0 ? "pending" : "failed";
		outcome = retry >= 0 ? "outcome=\"retried\"" : "outcome=\"failed\"";
		if (retry < 0) {
			snprintf(why, sizeof(why), "%s (gave up: webhooks.horizon passed)",
				 r->error);
		}
	} else if (r->outcome == SENDER_FINAL) {
		status = "failed";
		outcome = "outcome=\"failed\"";
	}
	snprintf(in, sizeof(in), "%lld", retry < 0 ? 0 : retry);
	params[1] = status;
	params[2] = r->outcome == SENDER_DELIVERED ? NULL : why;
	st = db_exec(conn, deliveries_record_sql, 5, params, NULL, err);
	if (!st) {
		counter_add(COUNTER_WEBHOOKS, outcome, 1);
		log_info("job %s: webhook event %s (%s) %s%s%s", row->job_id, row->id, row->event,
			 status, params[2] != NULL ? ": " : "", params[2] != NULL ? why : "");
	}
	return st;
}

/* Build, sign and send the locked row's event, then record the outcome. */
static enum ex_status deliveries_send(PGconn *conn, const struct config *cf,
				      const struct deliveries_row *row, struct buf *err)
{
	char sig[SIGNATURE_MAX];
	struct sender_result r;
	struct buf body;
	size_t len;
	enum ex_status st;

	buf_init(&body, 1024 * 1024UL);
	st = deliveries_body(conn, cf, row, &body, err);
	if (st) {
		goto out;
	}
	len = strlen(buf_str(&body)); /* JSON text: no NUL inside */
	st = signature_header(row->secret, (long long)time(NULL), buf_str(&body), len, sig);
	if (st) {
		buf_msg(err, "webhook event %s: cannot sign", row->id);
		goto out;
	}
	sender_post(cf, row->url, row->id, sig, buf_str(&body), len, &r);
	st = deliveries_record(conn, cf, row, &r, err);
out:
	buf_free(&body);
	return st;
}

static enum ex_status deliveries_next(PGconn *conn, const struct config *cf,
				      struct deliveries_row *row, int *found, PGresult **res,
				      struct buf *err)
{
	char horizon[32];
	const char *params[1] = {horizon};
	enum ex_status st;

	*found = 0;
	memset(row, 0, sizeof(*row));
	snprintf(horizon, sizeof(horizon), "%lld", cf->webhooks_horizon_ms);
	st = db_exec(conn, deliveries_next_sql, 1, params, res, err);
	if (st) {
		return st;
	}
	st = db_fields_check(*res, deliveries_fields, DELIVERIES_NFIELDS, err);
	if (st || PQntuples(*res) != 1) {
		return st;
	}
	st = db_fields_read(*res, 0, deliveries_fields, DELIVERIES_NFIELDS, row);
	*found = !st;
	return st;
}

enum ex_status deliveries_deliver_next(PGconn *conn, const struct config *cf, int *sent_one,
				       struct buf *err)
{
	struct deliveries_row row;
	PGresult *res = NULL;
	enum ex_status st;
	int found = 0;

	*sent_one = 0;
	st = db_begin(conn, err);
	if (st) {
		return st;
	}
	st = deliveries_next(conn, cf, &row, &found, &res, err);
	if (st) {
		goto fail;
	}
	if (found) {
		st = deliveries_send(conn, cf, &row, err);
		if (st) {
			goto fail;
		}
		*sent_one = 1;
	}
	st = db_commit(conn, err);
	goto out;
fail:
	db_rollback(conn);
out:
	PQclear(res);
	return st;
}

enum ex_status deliveries_admin_list(PGconn *conn, const char *workspace, int all, PGresult **res,
				     struct buf *err)
{
	const char *params[2] = {workspace, all ? "true" : "false"};

	return db_exec(conn, deliveries_admin_list_sql, 2, params, res, err);
}

enum ex_status deliveries_admin_redeliver(PGconn *conn, const char *id, PGresult **res,
					  struct buf *err)
{
	const char *params[1] = {id};
	enum ex_status st;

	st = db_exec(conn, deliveries_admin_redeliver_sql, 1, params, res, err);
	if (!st && PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		st = EX_ENOTFOUND;
	}
	return st;
}

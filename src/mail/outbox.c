#include "mail/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/backoff.h"
#include "db/db.h"
#include "mail/linktoken.h"
#include "mail/message.h"
#include "mail/smtp.h"

enum outbox_col {
	OUTBOX_ID,
	OUTBOX_KIND,
	OUTBOX_RECIPIENT,
	OUTBOX_ATTEMPTS,
	OUTBOX_JOB_ID,
	OUTBOX_TYPE,
	OUTBOX_FORMAT,
	OUTBOX_ROW_COUNT,
	OUTBOX_FILE_SIZE,
	OUTBOX_CHECKSUM,
	OUTBOX_ERROR,
};

static const char outbox_next_sql[] =
	"SELECT n.id, n.kind, n.recipient, n.attempts, j.id, j.type, j.format,"
	" j.row_count, j.file_size, j.checksum, j.error_message"
	" FROM export_notifications n JOIN export_jobs j ON j.id = n.job_id"
	" WHERE n.status = 'pending' AND n.next_attempt_at <= now()"
	" ORDER BY n.next_attempt_at FOR UPDATE OF n SKIP LOCKED LIMIT 1";

/* "exportd@example.com" -> "example.com", for Message-IDs. */
static const char *outbox_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL && at[1] != '\0' ? at + 1 : "localhost";
}

static long long outbox_num(const PGresult *res, int col)
{
	return db_value(res, 0, col) != NULL ? db_int(res, 0, col) : -1;
}

/* Build the message for the locked row; *expires gets the link's expiry. */
static enum ex_status outbox_message(const struct config *cf, const PGresult *res, time_t now,
				     time_t *expires, struct buf *msg, struct buf *err)
{
	const char *job_id = PQgetvalue(res, 0, OUTBOX_JOB_ID);
	const char *kind = PQgetvalue(res, 0, OUTBOX_KIND);
	char token[LINKTOKEN_MAX], link[2048], msgid[256];
	struct message_envelope env = {cf->mail_from_address, cf->mail_from_name,
				       PQgetvalue(res, 0, OUTBOX_RECIPIENT), now, msgid};
	struct message_job job;

	memset(&job, 0, sizeof(job));
	*expires = now + (time_t)(cf->mail_link_lifetime_ms / 1000);
	snprintf(msgid, sizeof(msgid), "%s.%s@%s", job_id, kind,
		 outbox_domain(cf->mail_from_address));
	job.kind = strcmp(kind, "complete") == 0 ? MESSAGE_COMPLETE : MESSAGE_FAILED;
	job.job_id = job_id;
	job.type = PQgetvalue(res, 0, OUTBOX_TYPE);
	job.format = PQgetvalue(res, 0, OUTBOX_FORMAT);
	job.row_count = outbox_num(res, OUTBOX_ROW_COUNT);
	job.file_size = outbox_num(res, OUTBOX_FILE_SIZE);
	job.checksum = db_value(res, 0, OUTBOX_CHECKSUM);
	job.error = db_value(res, 0, OUTBOX_ERROR);
	if (job.kind == MESSAGE_COMPLETE) {
		if (linktoken_sign(cf->mail_link_secrets, job_id, *expires, token) != EX_OK) {
			buf_msg(err, "%s", "mail.link_secrets has no secret to sign with");
			return EX_EPERM;
		}
		snprintf(link, sizeof(link), "%s/exports/%s/download?token=%s", cf->mail_public_url,
			 job_id, token);
		job.link = link;
		job.link_expires = *expires;
	}
	if (message_build(&env, &job, msg) != EX_OK) {
		buf_msg(err, "%s", "the recipient or sender address is not a valid address");
		return EX_EPERM;
	}
	return EX_OK;
}

/* Record the outcome of one attempt on the locked row. */
static enum ex_status outbox_record(PGconn *conn, const struct config *cf, const PGresult *res,
				    enum ex_status sent, const char *why, time_t expires,
				    struct buf *err)
{
	int attempts = (int)db_int(res, 0, OUTBOX_ATTEMPTS) + 1;
	int final = sent == EX_EPERM || attempts >= cf->mail_max_attempts;
	char retry[32], exp[32];
	const char *status = sent == EX_OK ? "sent" : final ? "failed" : "pending";
	const char *params[5] = {PQgetvalue(res, 0, OUTBOX_ID), status, sent == EX_OK ? NULL : why,
				 retry, exp};

	snprintf(retry, sizeof(retry), "%lld",
		 backoff_jitter_ms(cf->mail_retry_base_ms, cf->mail_retry_max_ms, attempts));
	snprintf(exp, sizeof(exp), "%lld", (long long)expires);
	return db_exec(conn,
		       "UPDATE export_notifications SET status = $2, attempts = attempts + 1,"
		       " last_error = $3, sent_at = CASE WHEN $2 = 'sent' THEN now() END,"
		       " link_expires_at = CASE WHEN $2 = 'sent' AND kind = 'complete'"
		       "  THEN to_timestamp($5::bigint) END,"
		       " next_attempt_at = now() + $4::bigint * interval '1 millisecond'"
		       " WHERE id = $1",
		       5, params, NULL, err);
}

/* Build and send the message for the locked row; returns the SMTP outcome. */
static enum ex_status outbox_send(PGconn *conn, const struct config *cf, const PGresult *res,
				  struct buf *err)
{
	const char *job_id = PQgetvalue(res, 0, OUTBOX_JOB_ID);
	time_t now = time(NULL), expires = 0;
	struct buf msg, why;
	enum ex_status st;

	buf_init(&msg, 256 * 1024);
	buf_init(&why, 2048);
	st = outbox_message(cf, res, now, &expires, &msg, &why);
	if (st == EX_OK) {
		st = smtp_send(cf, PQgetvalue(res, 0, OUTBOX_RECIPIENT), &msg, &why);
	}
	if (st == EX_OK) {
		log_info("job %s: %s mail sent", job_id, PQgetvalue(res, 0, OUTBOX_KIND));
	} else {
		log_warn("job %s: %s mail not sent: %s", job_id, PQgetvalue(res, 0, OUTBOX_KIND),
			 buf_str(&why));
	}
	st = outbox_record(conn, cf, res, st, buf_str(&why), expires, err);
	buf_free(&msg);
	buf_free(&why);
	return st;
}

enum ex_status outbox_deliver_next(PGconn *conn, const struct config *cf, int *sent_one,
				   struct buf *err)
{
	PGresult *res = NULL;
	enum ex_status st;

	*sent_one = 0;
	st = db_exec(conn, "BEGIN", 0, NULL, NULL, err);
	if (st == EX_OK) {
		st = db_exec(conn, outbox_next_sql, 0, NULL, &res, err);
	}
	if (st == EX_OK && PQntuples(res) == 1) {
		st = outbox_send(conn, cf, res, err);
		*sent_one = st == EX_OK;
	}
	if (st == EX_OK) {
		st = db_exec(conn, "COMMIT", 0, NULL, NULL, err);
	} else if (db_ok(conn)) {
		db_exec_quiet(conn, "ROLLBACK");
	}
	PQclear(res);
	return st;
}

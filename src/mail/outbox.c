/* outbox.c - owns export_notifications (sql/statements/outbox.sql): picks
 * the next due mail, sends it, records the outcome. */
#include "mail/outbox.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/backoff.h"
#include "common/counter.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "mail/linktoken.h"
#include "mail/message.h"
#include "mail/outbox_sql.h"
#include "mail/smtp.h"

/* A locked outbox row with the facts of its job. */
struct outbox_row {
	const char *id, *kind, *recipient, *job_id;
	int attempts;
	struct jobs_facts job;
};

#define OUTBOX_ROW(name, kind, member)                                                             \
	{                                                                                          \
		name, kind, offsetof(struct outbox_row, member)                                    \
	}
static const struct db_field outbox_fields[] = {
	OUTBOX_ROW("id", DB_TEXT, id),
	OUTBOX_ROW("kind", DB_TEXT, kind),
	OUTBOX_ROW("recipient", DB_TEXT, recipient),
	OUTBOX_ROW("job_id", DB_TEXT, job_id),
	OUTBOX_ROW("attempts", DB_INT, attempts),
};
#define OUTBOX_NFIELDS (sizeof(outbox_fields) / sizeof(outbox_fields[0]))

/* "exportd@example.com" -> "example.com", for Message-IDs. */
static const char *outbox_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL && at[1] != '\0' ? at + 1 : "localhost";
}

/* message.h's "unknown" for a job number that is NULL. */
static long long outbox_num(long long v)
{
	return v == DB_NULL ? -1 : v;
}

/* Build the message for the locked row; *expires gets the link's expiry. */
static enum ex_status outbox_message(const struct config *cf, const struct outbox_row *row,
				     time_t now, time_t *expires, struct buf *msg, struct buf *err)
{
	const char *job_id = row->job_id;
	const char *kind = row->kind;
	char token[LINKTOKEN_MAX], link[2048], msgid[256];
	struct message_envelope env = {cf->mail_from_address, cf->mail_from_name, row->recipient,
				       now, msgid};
	struct message_job job;

	memset(&job, 0, sizeof(job));
	*expires = now + (time_t)(cf->mail_link_lifetime_ms / 1000);
	snprintf(msgid, sizeof(msgid), "%s.%s@%s", job_id, kind,
		 outbox_domain(cf->mail_from_address));
	job.kind = strcmp(kind, "complete") == 0 ? MESSAGE_COMPLETE : MESSAGE_FAILED;
	job.job_id = job_id;
	job.type = row->job.type;
	job.format = row->job.format;
	job.row_count = outbox_num(row->job.row_count);
	job.file_size = outbox_num(row->job.file_size);
	job.checksum = row->job.checksum;
	job.error = row->job.error_message;
	if (job.kind == MESSAGE_COMPLETE) {
		if (linktoken_sign(cf->mail_link_secrets, job_id, *expires, token)) {
			buf_msg(err, "%s", "mail.link_secrets has no secret to sign with");
			return EX_EPERM;
		}
		snprintf(link, sizeof(link), "%s/exports/%s/download?token=%s", cf->mail_public_url,
			 job_id, token);
		job.link = link;
		job.link_expires = *expires;
	}
	if (message_build(&env, &job, msg)) {
		buf_msg(err, "%s", "the recipient or sender address is not a valid address");
		return EX_EPERM;
	}
	return EX_OK;
}

/* Record the outcome of one attempt on the locked row. */
static enum ex_status outbox_record(PGconn *conn, const struct config *cf,
				    const struct outbox_row *row, enum ex_status sent,
				    const char *why, time_t expires, struct buf *err)
{
	int attempts = row->attempts + 1;
	int final = sent == EX_EPERM || attempts >= cf->mail_max_attempts;
	char retry[32], exp[32];
	const char *status = sent == EX_OK ? "sent" : final ? "failed" : "pending";
	const char *params[5] = {row->id, status, sent == EX_OK ? NULL : why, retry, exp};
	enum ex_status st;

	snprintf(retry, sizeof(retry), "%lld",
		 backoff_jitter_ms(cf->mail_retry_base_ms, cf->mail_retry_max_ms, attempts));
	snprintf(exp, sizeof(exp), "%lld", (long long)expires);
	st = db_exec(conn, outbox_record_sql, 5, params, NULL, err);
	if (!st) {
		counter_add(COUNTER_MAIL,
			    sent == EX_OK ? "outcome=\"sent\""
			    : final	  ? "outcome=\"failed\""
					  : "outcome=\"retried\"",
			    1);
	}
	return st;
}

/* Build the message for the locked row and hand it to the SMTP server;
 * why says what went wrong. */
static enum ex_status outbox_try(const struct config *cf, const struct outbox_row *row,
				 time_t *expires, struct buf *why)
{
	struct buf msg;
	enum ex_status st;

	buf_init(&msg, 256 * 1024UL);
	st = outbox_message(cf, row, time(NULL), expires, &msg, why);
	if (st) {
		goto out;
	}
	st = smtp_send(cf, row->recipient, &msg, why);
out:
	buf_free(&msg);
	return st;
}

/* Send the locked row's mail and record the outcome; the status is the
 * recording's (an SMTP failure is an outcome, not an error). */
static enum ex_status outbox_send(PGconn *conn, const struct config *cf,
				  const struct outbox_row *row, struct buf *err)
{
	time_t expires = 0;
	struct buf why;
	enum ex_status sent, st;

	buf_init(&why, 2048);
	sent = outbox_try(cf, row, &expires, &why);
	if (sent) {
		log_warn("job %s: %s mail not sent: %s", row->job_id, row->kind, buf_str(&why));
	} else {
		log_info("job %s: %s mail sent", row->job_id, row->kind);
	}
	st = outbox_record(conn, cf, row, sent, buf_str(&why), expires, err);
	buf_free(&why);
	return st;
}

/* The next due row, locked, with its job's facts; *found = 0 when none is
 * due.  *res and *job_res hold the row's strings. */
static enum ex_status outbox_next(PGconn *conn, struct outbox_row *row, int *found, PGresult **res,
				  PGresult **job_res, struct buf *err)
{
	enum ex_status st;

	*found = 0;
	memset(row, 0, sizeof(*row));
	st = db_exec(conn, outbox_next_sql, 0, NULL, res, err);
	if (st) {
		return st;
	}
	st = db_fields_check(*res, outbox_fields, OUTBOX_NFIELDS, err);
	if (st || PQntuples(*res) != 1) {
		return st;
	}
	/* Text and numbers only: nothing to allocate, nothing to fail. */
	st = db_fields_read(*res, 0, outbox_fields, OUTBOX_NFIELDS, row);
	if (st) {
		return st;
	}
	/* The job cannot be gone: deleting it would wait for our row lock. */
	st = jobs_facts(conn, row->job_id, &row->job, job_res, err);
	if (st == EX_ENOTFOUND) {
		buf_msg(err, "job %s of mail %s not found", row->job_id, row->id);
		return EX_EDB;
	}
	if (st) {
		return st;
	}
	*found = 1;
	return EX_OK;
}

enum ex_status outbox_deliver_next(PGconn *conn, const struct config *cf, int *sent_one,
				   struct buf *err)
{
	PGresult *res = NULL, *job_res = NULL;
	struct outbox_row row;
	enum ex_status st;
	int found = 0;

	*sent_one = 0;
	st = db_begin(conn, err);
	if (st) {
		return st;
	}
	st = outbox_next(conn, &row, &found, &res, &job_res, err);
	if (st) {
		goto fail;
	}
	if (found) {
		st = outbox_send(conn, cf, &row, err);
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
	PQclear(job_res);
	return st;
}

#include "db/db.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Server NOTICEs (e.g. "already exists, skipping") are not ours to print. */
static void db_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("server notice: %s", message);
}

enum ex_status db_connect(const char *conninfo, const char *appname, PGconn **out, struct buf *err)
{
	const char *keys[] = {"dbname", "application_name", "options", NULL};
	const char *values[] = {conninfo, appname, "-c TimeZone=UTC -c DateStyle=ISO,YMD", NULL};
	PGconn *conn;

	/* expand_dbname=1: conninfo may be a "key=value" string or a URI. */
	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL) {
		return EX_ENOMEM;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		buf_msg(err, "%s", PQerrorMessage(conn));
		PQfinish(conn);
		return EX_EDB;
	}
	PQsetNoticeProcessor(conn, db_notice, NULL);
	*out = conn;
	return EX_OK;
}

enum ex_status db_classify(const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	/* Class 42 (undefined table/column, insufficient privilege, ...) and
	 * 3F (invalid schema) do not pass by retrying; connection loss (08),
	 * serialization failures (40), shutdowns (57) and the rest may. */
	if (state != NULL && (strncmp(state, "42", 2) == 0 || strncmp(state, "3F", 2) == 0)) {
		return EX_EPERM;
	}
	/* Class 22 (a value that does not fit its type): the same input fails
	 * the same way every time. */
	if (state != NULL && strncmp(state, "22", 2) == 0) {
		return EX_EINVAL;
	}
	return EX_EDB;
}

void db_error_text(PGconn *conn, const PGresult *res, struct buf *err)
{
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t len;

	buf_msg(err, "%s", primary != NULL ? primary : PQerrorMessage(conn));
	len = err->len;

	while (len > 0 && (err->data[len - 1] == '\n' || err->data[len - 1] == ' ')) {
		len--;
	}
	buf_truncate(err, len);
}

static enum ex_status db_check(PGconn *conn, PGresult *r, PGresult **res, struct buf *err)
{
	ExecStatusType rs = PQresultStatus(r);
	enum ex_status st;

	if (res != NULL) {
		*res = NULL;
	}
	if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
		if (res != NULL) {
			*res = r;
		} else {
			PQclear(r);
		}
		return EX_OK;
	}
	st = r != NULL ? db_classify(r) : EX_EDB;
	db_error_text(conn, r, err);
	PQclear(r);
	return st;
}

enum ex_status db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
		       PGresult **res, struct buf *err)
{
	return db_check(conn, PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0), res,
			err);
}

enum ex_status db_exec_script(PGconn *conn, const char *sql, struct buf *err)
{
	return db_check(conn, PQexec(conn, sql), NULL, err);
}

enum ex_status db_quote_ident(PGconn *conn, const char *ident, struct buf *out)
{
	char *q = PQescapeIdentifier(conn, ident, strlen(ident));
	enum ex_status st;

	if (q == NULL) {
		return EX_EINVAL;
	}
	st = buf_puts(out, q);
	PQfreemem(q);
	return st;
}

int db_ok(PGconn *conn)
{
	return conn != NULL && PQstatus(conn) == CONNECTION_OK;
}

const char *db_value(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col)) {
		return NULL;
	}
	return PQgetvalue(res, row, col);
}

long long db_int(const PGresult *res, int row, int col)
{
	const char *v = db_value(res, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

void db_exec_quiet(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_warn("%s failed: %s", sql, PQerrorMessage(conn));
	}
	PQclear(r);
}

enum ex_status db_exec_state(PGconn *conn, const char *sql, int nparams, const char *const *params,
			     PGresult **res, char state[6], struct buf *err)
{
	PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType rs = PQresultStatus(r);
	const char *code;

	state[0] = '\0';
	if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
		*res = r;
		return EX_OK;
	}
	*res = NULL;
	code = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	snprintf(state, 6, "%s", code != NULL ? code : "");
	db_error_text(conn, r, err);
	PQclear(r);
	return EX_EDB;
}

#include "db/db.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

enum ex_status db_connect(const char *conninfo, const char *appname, PGconn **out,
			  struct buf *err)
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
	*out = conn;
	return EX_OK;
}

enum ex_status db_classify(const PGresult *res)
{
	static const char *const permanent[] = {
		"42P01", /* undefined_table */
		"42703", /* undefined_column */
		"42501", /* insufficient_privilege */
		"3F000", /* invalid_schema_name */
		"42883", /* undefined_function */
		"22P02", /* invalid_text_representation (bad key literal) */
		NULL,
	};
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	size_t i;

	for (i = 0; state != NULL && permanent[i] != NULL; i++) {
		if (strcmp(state, permanent[i]) == 0) {
			return EX_EPERM;
		}
	}
	return EX_EDB;
}

enum ex_status db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
		       PGresult **res, struct buf *err)
{
	PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
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
	buf_msg(err, "%s", r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(conn));
	while (err->len > 0 && err->data[err->len - 1] == '\n') {
		err->data[--err->len] = '\0';
	}
	PQclear(r);
	return st;
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

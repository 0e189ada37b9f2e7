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
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *values[] = {conninfo, appname, NULL};
	PGconn *conn;

	/* UTC and ISO dates (what every statement's text output assumes).
	 * libpq sends $PGTZ and $PGDATESTYLE as startup parameters of their
	 * own, which a transaction pooler (PgBouncer) tracks per client and
	 * sets on whichever server connection serves it; "options", which
	 * would carry them otherwise, is refused by PgBouncer. */
	if (setenv("PGTZ", "UTC", 1) != 0 || setenv("PGDATESTYLE", "ISO, YMD", 1) != 0) {
		return EX_ENOMEM;
	}
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

/* The one place a result becomes a status: every entry point ends here. */
static enum ex_status db_check(PGconn *conn, PGresult *r, PGresult **res, char *state,
			       struct buf *err)
{
	ExecStatusType rs = PQresultStatus(r);
	const char *code = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	enum ex_status st;

	if (res != NULL) {
		*res = NULL;
	}
	if (state != NULL) {
		state[0] = '\0';
	}
	if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
		if (res != NULL) {
			*res = r;
		} else {
			PQclear(r);
		}
		return EX_OK;
	}
	if (state != NULL) {
		snprintf(state, 6, "%s", code != NULL ? code : "");
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
			NULL, err);
}

enum ex_status db_exec_state(PGconn *conn, const char *sql, int nparams, const char *const *params,
			     PGresult **res, char state[6], struct buf *err)
{
	return db_check(conn, PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0), res,
			state, err);
}

enum ex_status db_exec_script(PGconn *conn, const char *sql, struct buf *err)
{
	return db_check(conn, PQexec(conn, sql), NULL, NULL, err);
}

enum ex_status db_begin(PGconn *conn, struct buf *err)
{
	return db_exec(conn, "BEGIN", 0, NULL, NULL, err);
}

enum ex_status db_commit(PGconn *conn, struct buf *err)
{
	return db_exec(conn, "COMMIT", 0, NULL, NULL, err);
}

void db_rollback(PGconn *conn)
{
	if (db_ok(conn)) {
		db_exec_quiet(conn, "ROLLBACK");
	}
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

/* The value of {{name}} at p (just past the braces), quoted into out. */
static enum ex_status db_fill_one(PGconn *conn, const char *p, size_t len, const char *const *names,
				  const char *const *values, int n, struct buf *out)
{
	int i;

	for (i = 0; i < n; i++) {
		if (strlen(names[i]) == len && strncmp(p, names[i], len) == 0) {
			return db_quote_ident(conn, values[i], out);
		}
	}
	return EX_EINVAL;
}

enum ex_status db_fill(PGconn *conn, const char *tmpl, const char *const *names,
		       const char *const *values, int n, struct buf *out)
{
	const char *p = tmpl, *open, *close;
	enum ex_status st;

	while ((open = strstr(p, "{{")) != NULL) {
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			return EX_EINVAL;
		}
		st = buf_append(out, p, (size_t)(open - p));
		if (st) {
			return st;
		}
		st = db_fill_one(conn, open + 2, (size_t)(close - open - 2), names, values, n, out);
		if (st) {
			return st;
		}
		p = close + 2;
	}
	return buf_puts(out, p);
}

enum ex_status db_fields_check(const PGresult *res, const struct db_field *fields, size_t n,
			       struct buf *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (PQfnumber(res, fields[i].name) < 0) {
			buf_msg(err, "the statement's result has no column \"%s\"", fields[i].name);
			return EX_EDB;
		}
	}
	return EX_OK;
}

const char *db_text(const PGresult *res, int row, const char *name)
{
	int col = PQfnumber(res, name);

	return col >= 0 ? db_value(res, row, col) : NULL;
}

/* One cell into its member; v is NULL for SQL NULL. */
static enum ex_status db_field_set(const struct db_field *f, const char *v, char *base)
{
	char *copy;

	switch (f->kind) {
	case DB_TEXT:
		*(const char **)(void *)(base + f->offset) = v;
		return EX_OK;
	case DB_DUP:
		copy = v != NULL ? strdup(v) : NULL;
		*(char **)(void *)(base + f->offset) = copy;
		return v != NULL && copy == NULL ? EX_ENOMEM : EX_OK;
	case DB_LLONG:
		*(long long *)(void *)(base + f->offset) = v != NULL ? strtoll(v, NULL, 10) : 0;
		return EX_OK;
	case DB_LLONG_OR:
		*(long long *)(void *)(base + f->offset) =
			v != NULL ? strtoll(v, NULL, 10) : DB_NULL;
		return EX_OK;
	case DB_INT:
		*(int *)(void *)(base + f->offset) = v != NULL ? (int)strtol(v, NULL, 10) : 0;
		return EX_OK;
	case DB_BOOL:
		*(int *)(void *)(base + f->offset) = v != NULL && v[0] == 't';
		return EX_OK;
	case DB_DOUBLE:
		*(double *)(void *)(base + f->offset) = v != NULL ? strtod(v, NULL) : 0;
		return EX_OK;
	}
	return EX_EINVAL;
}

enum ex_status db_fields_read(const PGresult *res, int row, const struct db_field *fields, size_t n,
			      void *out)
{
	enum ex_status st;
	size_t i;

	for (i = 0; i < n; i++) {
		st = db_field_set(&fields[i], db_text(res, row, fields[i].name), out);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

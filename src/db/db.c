#include "db/db.h"

#include "common/log.h"

#include <inttypes.h>
#include <libpq-events.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The named statements one connection has prepared (db_prepare_on()),
 * attached to the PGconn as libpq event instance data, so it lives and
 * dies with the connection.  The bound is the program's own statement
 * files: a program that builds more texts than that runs the rest as
 * unnamed statements. */
#define DB_PREPARED_MAX 64

struct db_prepared {
	int off; /* a statement was lost: unnamed statements from now on */
	int n;
	const char *ptr[DB_PREPARED_MAX]; /* the caller's text, the fast match */
	char *sql[DB_PREPARED_MAX];	  /* our copy, what a match is checked against */
	size_t len[DB_PREPARED_MAX];
	char name[DB_PREPARED_MAX][32];
};

static void db_prepared_forget(struct db_prepared *p)
{
	int i;

	for (i = 0; i < p->n; i++) {
		free(p->sql[i]);
	}
	p->n = 0;
}

/* libpq calls this when the connection is reset (the server forgot every
 * statement) or finished. */
static int db_events(PGEventId id, void *info, void *pass)
{
	struct db_prepared *p = NULL;

	(void)pass;
	if (id == PGEVT_CONNRESET) {
		p = PQinstanceData(((PGEventConnReset *)info)->conn, db_events);
	} else if (id == PGEVT_CONNDESTROY) {
		p = PQinstanceData(((PGEventConnDestroy *)info)->conn, db_events);
	}
	if (p != NULL) {
		db_prepared_forget(p);
	}
	if (p != NULL && id == PGEVT_CONNDESTROY) {
		free(p);
	}
	return 1;
}

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

enum ex_status db_prepare_on(PGconn *conn, struct buf *err)
{
	struct db_prepared *p = NULL;
	PGresult *res = NULL;
	enum ex_status st;

	st = db_exec(conn, "SELECT pg_backend_pid()", 0, NULL, &res, err);
	if (st) {
		return st;
	}
	/* A pooler (PgBouncer) hands out a pid of its own, and may run each
	 * transaction on another server connection, where our statements do
	 * not exist: unnamed statements there. */
	if (db_int(res, 0, 0) != PQbackendPID(conn)) {
		log_debug("backend pid %lld, connection pid %d: a pooler, no prepared statements",
			  db_int(res, 0, 0), PQbackendPID(conn));
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	if (!PQregisterEventProc(conn, db_events, "exportd-prepared", NULL) ||
	    !PQsetInstanceData(conn, db_events, p)) {
		free(p);
		st = EX_ENOMEM;
	}
out:
	PQclear(res);
	return st;
}

/* FNV-1a: the statement's name is its text's hash, so that a name means
 * one text even on a server connection another client used. */
static uint64_t db_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	}
	return h;
}

static int db_prepared_find(const struct db_prepared *p, const char *sql, size_t len)
{
	int i;

	for (i = 0; i < p->n; i++) {
		if (p->ptr[i] == sql && p->len[i] == len && memcmp(p->sql[i], sql, len) == 0) {
			return i;
		}
	}
	for (i = 0; i < p->n; i++) {
		if (p->len[i] == len && memcmp(p->sql[i], sql, len) == 0) {
			return i;
		}
	}
	return -1;
}

/* Prepare sql as entry p->n; -1 when there is no room (or memory).  A
 * failure is handed back in *fail, the error the statement has. */
static int db_prepared_add(PGconn *conn, struct db_prepared *p, const char *sql, size_t len,
			   int nparams, PGresult **fail)
{
	int i = p->n;
	PGresult *r;
	const char *state;

	if (i == DB_PREPARED_MAX || (p->sql[i] = strdup(sql)) == NULL) {
		return -1;
	}
	snprintf(p->name[i], sizeof(p->name[i]), "exportd_%016" PRIx64, db_hash(sql, len));
	r = PQprepare(conn, p->name[i], sql, nparams, NULL);
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	/* 42P05: that name, hence that text, is on this server connection already. */
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    (state == NULL || strcmp(state, "42P05") != 0)) {
		free(p->sql[i]);
		*fail = r;
		return -1;
	}
	PQclear(r);
	p->ptr[i] = sql;
	p->len[i] = len;
	p->n++;
	return i;
}

/* Did the server lose the statement (26000: a pooler moved us, a DISCARD
 * ALL) or refuse its cached plan (0A000 after a migration changed a
 * result's type)? */
static int db_prepared_lost(PGconn *conn, const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return state != NULL && (strcmp(state, "26000") == 0 || strcmp(state, "0A000") == 0) &&
	       PQtransactionStatus(conn) == PQTRANS_IDLE;
}

/* Run sql as a named statement of the connection's when db_prepare_on()
 * was called for it, else (or when that fails) unnamed. */
static PGresult *db_run(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	struct db_prepared *p = PQinstanceData(conn, db_events);
	PGresult *r = NULL;
	size_t len;
	int i = -1;

	if (p != NULL && !p->off && PQtransactionStatus(conn) != PQTRANS_INERROR) {
		len = strlen(sql);
		i = db_prepared_find(p, sql, len);
		if (i < 0) {
			i = db_prepared_add(conn, p, sql, len, nparams, &r);
		}
	}
	if (r != NULL) {
		return r;
	}
	if (i < 0) {
		return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	}
	p->ptr[i] = sql;
	r = PQexecPrepared(conn, p->name[i], nparams, params, NULL, NULL, 0);
	if (db_prepared_lost(conn, r)) {
		log_warn("prepared statement %s is gone (%s): unnamed statements on this "
			 "connection from now on",
			 p->name[i], PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
		p->off = 1;
		PQclear(r);
		r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	}
	return r;
}

enum ex_status db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
		       PGresult **res, struct buf *err)
{
	return db_check(conn, db_run(conn, sql, nparams, params), res, NULL, err);
}

enum ex_status db_exec_state(PGconn *conn, const char *sql, int nparams, const char *const *params,
			     PGresult **res, char state[6], struct buf *err)
{
	return db_check(conn, db_run(conn, sql, nparams, params), res, state, err);
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

/* db.h - thin helpers over libpq: statements, one error classifier, one
 * transaction policy, and rows read into structs by column name.
 *
 * Every session is set to TimeZone UTC, DateStyle ISO so that text output
 * (and hence the files we write) does not depend on server settings.
 * Values always travel as parameters; identifiers go through
 * db_quote_ident() (or db_fill() for a statement's {{name}} placeholders).
 * PGresults returned to callers are theirs to PQclear().
 */
#ifndef EXPORTD_DB_H
#define EXPORTD_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

/* Connect with conninfo; on failure err gets libpq's message. */
enum ex_status db_connect(const char *conninfo, const char *appname, PGconn **out,
			  struct buf *err) EX_MUST_CHECK;

/* From now on, run every statement of conn (db_exec*) as a named prepared
 * statement, prepared at its first use on this connection: the server
 * parses and plans it once.  Not when conn goes through a connection
 * pooler (the backend's pid is not the one the connection announced): a
 * transaction pooler may run each statement on another server connection.
 * A statement the server has lost all the same (26000, or 0A000 after a
 * migration) is run again unnamed, and so is every later one. */
enum ex_status db_prepare_on(PGconn *conn, struct buf *err) EX_MUST_CHECK;

/* Run a parameterised statement (text params, text results).  Success is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK; otherwise *res is NULL, err holds the
 * server's message and the status is db_classify()'s.  res may be NULL when
 * the caller wants no rows. */
enum ex_status db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
		       PGresult **res, struct buf *err) EX_MUST_CHECK;

/* db_exec() that also hands back the SQLSTATE of a failure ("" if none),
 * for a caller that must tell one condition from the rest of its class
 * (23505 unique_violation); the status is classified as db_exec()'s. */
enum ex_status db_exec_state(PGconn *conn, const char *sql, int nparams, const char *const *params,
			     PGresult **res, char state[6], struct buf *err) EX_MUST_CHECK;

/* Run several ;-separated statements without parameters (migrations);
 * classified as db_exec(). */
enum ex_status db_exec_script(PGconn *conn, const char *sql, struct buf *err) EX_MUST_CHECK;

/* Run a statement whose failure the caller cannot act on (unlock);
 * failures are logged. */
void db_exec_quiet(PGconn *conn, const char *sql);

/* The one classifier of a failed result: EX_EPERM for a source that is
 * gone or denied (classes 42, 3F), EX_EINVAL for a value that does not fit
 * (class 22), else EX_EDB (may pass: connection, serialization,
 * shutdown...). */
enum ex_status db_classify(const PGresult *res);

/* The error of a failed result (or the connection) as one readable line:
 * the server's primary message, no "ERROR:" prefix, no query excerpt. */
void db_error_text(PGconn *conn, const PGresult *res, struct buf *err);

/* Transactions, one policy for every caller: db_begin()/db_commit() fail
 * as db_exec(); db_rollback() is for failure paths, so it reports nothing
 * (the caller has its error already) and is skipped on a broken connection,
 * where the server has rolled back for us. */
enum ex_status db_begin(PGconn *conn, struct buf *err) EX_MUST_CHECK;
enum ex_status db_commit(PGconn *conn, struct buf *err) EX_MUST_CHECK;
void db_rollback(PGconn *conn);

/* Append "identifier" quoted for SQL to out. */
enum ex_status db_quote_ident(PGconn *conn, const char *ident, struct buf *out) EX_MUST_CHECK;

/* A statement with identifier placeholders: every "{{name}}" in tmpl is
 * replaced by db_quote_ident(values[i]) for names[i]; an unknown or
 * unterminated placeholder is EX_EINVAL (a bug in the statement file). */
enum ex_status db_fill(PGconn *conn, const char *tmpl, const char *const *names,
		       const char *const *values, int n, struct buf *out) EX_MUST_CHECK;

/* Is the connection still usable? */
int db_ok(PGconn *conn);

/* "t"/"f" and NULL-aware getters for a result cell. */
const char *db_value(const PGresult *res, int row, int col); /* NULL when SQL NULL */
long long db_int(const PGresult *res, int row, int col);     /* 0 when NULL */

/* Rows read by column name into a struct, filled in one place per row
 * shape: a table of fields says which result column (by name) goes to
 * which member (by offset) as what. */
enum db_kind {
	DB_TEXT,     /* const char *, into the PGresult; NULL for SQL NULL */
	DB_DUP,	     /* char *, a malloc'd copy (caller frees); NULL for SQL NULL */
	DB_LLONG,    /* long long; 0 for SQL NULL */
	DB_LLONG_OR, /* long long; DB_NULL for SQL NULL */
	DB_INT,	     /* int; 0 for SQL NULL */
	DB_BOOL,     /* int: 1 for "t" */
	DB_DOUBLE,   /* double; 0 for SQL NULL */
};
#define DB_NULL (-9223372036854775807LL - 1) /* LLONG_MIN: a DB_LLONG_OR that is NULL */

struct db_field {
	const char *name;
	enum db_kind kind;
	size_t offset;
};

/* Does res have every field's column?  EX_EDB naming the first missing
 * (a statement and its reader disagree) otherwise. */
enum ex_status db_fields_check(const PGresult *res, const struct db_field *fields, size_t n,
			       struct buf *err) EX_MUST_CHECK;
/* Fill out from one row; a missing column reads as SQL NULL.  EX_ENOMEM
 * when a DB_DUP copy fails (copies made so far are the caller's to free). */
enum ex_status db_fields_read(const PGresult *res, int row, const struct db_field *fields, size_t n,
			      void *out) EX_MUST_CHECK;
/* The text of column name in row; NULL when SQL NULL or no such column. */
const char *db_text(const PGresult *res, int row, const char *name);

#endif

/* db.h - thin helpers over libpq.
 *
 * Every session is set to TimeZone UTC, DateStyle ISO so that text output
 * (and hence the files we write) does not depend on server settings.
 * Values always travel as parameters; identifiers go through
 * db_quote_ident().  PGresults returned to callers are theirs to PQclear().
 */
#ifndef EXPORTD_DB_H
#define EXPORTD_DB_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"

/* Connect with conninfo; on failure err gets libpq's message. */
enum ex_status db_connect(const char *conninfo, const char *appname, PGconn **out,
			  struct buf *err) EX_MUST_CHECK;

/* Run a parameterised statement (text params, text results).  Success is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK; otherwise *res is NULL, err holds the
 * server's message, and the status is EX_EDB (or EX_EPERM for errors that
 * retrying cannot fix: undefined table/column, insufficient privilege).
 * res may be NULL when the caller wants no rows. */
enum ex_status db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
		       PGresult **res, struct buf *err) EX_MUST_CHECK;

/* db_exec() that also hands back the SQLSTATE of a failure ("" if none),
 * for callers that answer differently by error class; *res is set only on
 * success. */
enum ex_status db_exec_state(PGconn *conn, const char *sql, int nparams, const char *const *params,
			     PGresult **res, char state[6], struct buf *err) EX_MUST_CHECK;

/* Run several ;-separated statements without parameters (migrations). */
enum ex_status db_exec_script(PGconn *conn, const char *sql, struct buf *err) EX_MUST_CHECK;

/* Run a statement whose failure the caller cannot act on (ROLLBACK,
 * unlock); failures are logged. */
void db_exec_quiet(PGconn *conn, const char *sql);

/* Classify a failed result: EX_EPERM for a source that is gone or denied
 * (classes 42, 3F), EX_EINVAL for a value that does not fit (class 22),
 * else EX_EDB (may pass: connection, serialization, shutdown...). */
enum ex_status db_classify(const PGresult *res);

/* The error of a failed result (or the connection) as one readable line:
 * the server's primary message, no "ERROR:" prefix, no query excerpt. */
void db_error_text(PGconn *conn, const PGresult *res, struct buf *err);

/* Append "identifier" quoted for SQL to out. */
enum ex_status db_quote_ident(PGconn *conn, const char *ident, struct buf *out) EX_MUST_CHECK;

/* Is the connection still usable? */
int db_ok(PGconn *conn);

/* "t"/"f" and NULL-aware getters for a result cell. */
const char *db_value(const PGresult *res, int row, int col); /* NULL when SQL NULL */
long long db_int(const PGresult *res, int row, int col);     /* 0 when NULL */

#endif

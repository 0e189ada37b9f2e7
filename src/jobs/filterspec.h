/* filterspec.h - an export job's filters: the one owner of their stored form.
 *
 * Stored in export_jobs.filters (jsonb), every member optional ("{}": none):
 *   {"created_from": "<ts>", "created_to": "<ts>", "equals": {"<col>": value, ...}}
 * Shown (GET /exports/{id}) in the request's flat shape, so it can be sent
 * again as it is:
 *   {"created_from": "<ts>", "created_to": "<ts>", "<col>": value, ...}
 * A value is a string, number, boolean or null (null: the column IS NULL).
 * A number is kept as the JSON text it was sent as, and compared as that
 * text cast by PostgreSQL to the column's type.  jsonb rewrites numbers
 * without exponent (1e30 -> 1000000000000000000000000000000), and json-c
 * cuts integers past 64 bits to a bound when it reads them back, so a
 * number jsonb would give back as an integer of 19 digits or more is
 * stored as {"number": "<its text>"} in "equals" (never in the request
 * shape); a bare integer json-c cut is refused, never compared.
 * The rows kept: created_from <= created-at < created_to, and every column
 * equal to its value.
 *
 * This module knows the shapes, not the database: whether a value fits its
 * column or a time parses is PostgreSQL's to say (http/filters.c asks it
 * before a job is created; the export query fails for a job inserted by SQL).
 */
#ifndef EXPORTD_FILTERSPEC_H
#define EXPORTD_FILTERSPEC_H

#include <json-c/json.h>

#include "common/buf.h"
#include "common/status.h"
#include "jobs/registry.h"

/* Equality filters per job.  The keyset query holds at most 64 parameters
 * (exportd/query.h): 6 of its own, the rest for these. */
#define FILTERSPEC_MAX_EQUALS 58

enum filterspec_kind {
	FILTERSPEC_NULL, /* JSON null: IS NULL */
	FILTERSPEC_STRING,
	FILTERSPEC_NUMBER,  /* text as json-c spells the number */
	FILTERSPEC_BOOLEAN, /* text "true" or "false" */
};

struct filterspec_equal {
	char *column;
	enum filterspec_kind kind;
	char *text; /* the value PostgreSQL compares with; NULL for FILTERSPEC_NULL */
};

struct filterspec {
	char *created_from; /* NULL: no lower bound */
	char *created_to;   /* NULL: no upper bound */
	int nequals;
	struct filterspec_equal equals[FILTERSPEC_MAX_EQUALS]; /* in the order given */
};

/* An empty spec (no filters); filterspec_free() releases what it gets. */
void filterspec_init(struct filterspec *fs);
void filterspec_free(struct filterspec *fs);

/* Set a time bound ("created_from" or "created_to"), replacing one set
 * before; EX_EINVAL for another name. */
enum ex_status filterspec_set_bound(struct filterspec *fs, const char *name,
				    const char *ts) EX_MUST_CHECK;

/* How exactly json-c kept a number it parsed. */
enum filterspec_number {
	FILTERSPEC_NUMBER_EXACT,
	FILTERSPEC_NUMBER_NOT_FINITE, /* NaN, Infinity: json-c reads them, JSON has none */
	FILTERSPEC_NUMBER_CUT,	      /* an integer past 64 bits, cut to a bound by json-c */
};
/* v must be a json-c int or double. */
enum filterspec_number filterspec_number(struct json_object *v);

/* A JSON value as an equality value: *kind and *text (borrowed from v, NULL
 * for null).  EX_EINVAL for an array, an object, a string holding a NUL or
 * a number filterspec_number() does not call exact. */
enum ex_status filterspec_value(struct json_object *v, enum filterspec_kind *kind,
				const char **text) EX_MUST_CHECK;

/* Add column = value (text copied).  EX_EINVAL: the column is there already,
 * or text does not match kind; EX_ETOOBIG: FILTERSPEC_MAX_EQUALS reached. */
enum ex_status filterspec_add_equal(struct filterspec *fs, const char *column,
				    enum filterspec_kind kind, const char *text) EX_MUST_CHECK;

/* Parse the stored form (text NULL: no filters) into fs (initialised by the
 * caller, freed by the caller whatever the outcome).  Strict: EX_EINVAL for
 * anything that is not the stored form (err says what); a bound that is
 * null counts as absent.  EX_ETOOBIG past FILTERSPEC_MAX_EQUALS. */
enum ex_status filterspec_parse(const char *text, struct filterspec *fs,
				struct buf *err) EX_MUST_CHECK;

/* Append the stored form to out: the text export_jobs.filters gets, byte
 * for byte what jobs created before this module stored. */
enum ex_status filterspec_stored(const struct filterspec *fs, struct buf *out) EX_MUST_CHECK;

/* The request shape as a new object (the caller puts it); NULL: out of
 * memory. */
struct json_object *filterspec_request(const struct filterspec *fs);

/* Where filterspec_sql() writes. */
struct filterspec_sql {
	struct buf *sql;     /* " AND <condition>" per filter is appended */
	const char **values; /* parameter $n is values[n - 1] (borrowed from fs) */
	int *nparams;	     /* parameters used so far; grows */
	int maxparams;	     /* size of values */
	/* Append the query's reference to a column of the source, quoted
	 * (e.g. _src."col" through db_quote_ident). */
	enum ex_status (*column)(void *ctx, const char *name, struct buf *out);
	void *column_ctx;
};

/* The conditions for type t, in the stored order: created_from
 * (" AND <created-at> >= $n::timestamptz"), created_to (" < "), then each
 * equality (" = $n", or " IS NULL").  Values only ever travel as
 * parameters.  EX_EPERM (err says why) when t no longer allows a filter
 * (no created-at column, a column not filterable any more); EX_ETOOBIG
 * past maxparams or the buffer's cap. */
enum ex_status filterspec_sql(const struct filterspec *fs, const struct registry_type *t,
			      const struct filterspec_sql *out, struct buf *err) EX_MUST_CHECK;

#endif

/* query.h - the keyset query of one export, with its parameters.
 *
 *   SELECT _src."c1", ..., _src."key"::text FROM "schema"."rel" AS _src
 *   WHERE _src."ws" = $1 [AND _src."key" > $2]          -- keyset
 *     AND _src."key" <= $n                                -- as-of key
 *     AND _src."created" <= $n::timestamptz               -- as-of time
 *     AND _src."created" >= $n::timestamptz AND ... < $n  -- created_from/to
 *     AND _src."deleted" IS NULL                          -- unless include_deleted
 *     AND _src."col" = $n ...                             -- equality filters
 *   ORDER BY _src."key" LIMIT chunk_rows
 *
 * An incremental job (a window: README "Incremental exports") reads its
 * type's change-time column "upd" in (upd, key) order instead:
 *
 *   SELECT _src."c1", ..., <deleted or NULL> AS _deleted_at,
 *          _src."key"::text, _src."upd"::text FROM ... AS _src
 *   WHERE _src."ws" = $1 [AND (_src."upd", _src."key") > ($3::timestamptz, $2)]
 *     AND (_src."upd", _src."key") > ($n::timestamptz, $n)  -- the cursor
 *         (a cursor without a key: AND _src."upd" >= $n::timestamptz)
 *     AND _src."upd" <= $n::timestamptz                     -- sync_until
 *     ... the as-of bounds and filters, soft-deleted rows included
 *   ORDER BY _src."upd", _src."key" LIMIT chunk_rows
 *
 * Identifiers are quoted, every value is a parameter.  $2 (and $3) exist in
 * both statements (declared text and unused in the first) so the
 * numbering is the same.
 */
#ifndef EXPORTD_QUERY_H
#define EXPORTD_QUERY_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"
#include "jobs/filterspec.h"
#include "jobs/jobs.h"
#include "jobs/registry.h"

#define QUERY_MAX_PARAMS 68

struct query {
	struct buf first; /* SQL without the keyset condition */
	struct buf next;  /* SQL with _src.key > $2 */
	int nparams;
	const char *values[QUERY_MAX_PARAMS]; /* [1], [2]: the caller's (last key, its time) */
	Oid first_types[QUERY_MAX_PARAMS];    /* for PQprepare of first */
	struct filterspec filters;	      /* owns the filter values */
};

/* An incremental job's change-time window: after the cursor (at, key; key
 * NULL: at included), up to until.  Strings are the caller's. */
struct query_window {
	const char *at, *key, *until;
};

/* window: NULL for a full export.  EX_EPERM when the job's filters no longer fit the type (a column
 * not filterable any more), EX_EINVAL when they are not the stored form (jobs/filterspec.h); err
 * says which. */
enum ex_status query_build(PGconn *conn, const struct registry_type *t, char *const *names,
			   int ncols, const struct jobs_claim *job,
			   const struct query_window *window, long long chunk_rows, struct query *q,
			   struct buf *err) EX_MUST_CHECK;
void query_free(struct query *q);

#endif

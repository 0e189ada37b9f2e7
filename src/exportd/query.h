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
 * Identifiers are quoted, every value is a parameter.  $2 exists in both
 * statements (declared text and unused in the first) so the numbering is
 * the same.
 */
#ifndef EXPORTD_QUERY_H
#define EXPORTD_QUERY_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"
#include "jobs/filterspec.h"
#include "jobs/jobs.h"
#include "jobs/registry.h"

#define QUERY_MAX_PARAMS 64

struct query {
	struct buf first; /* SQL without the keyset condition */
	struct buf next;  /* SQL with _src.key > $2 */
	int nparams;
	const char *values[QUERY_MAX_PARAMS]; /* [1] is the caller's (last key) */
	Oid first_types[QUERY_MAX_PARAMS];    /* for PQprepare of first */
	struct filterspec filters;	      /* owns the filter values */
};

/* EX_EPERM when the job's filters no longer fit the type (a column not
 * filterable any more), EX_EINVAL when they are not the stored form
 * (jobs/filterspec.h); err says which. */
enum ex_status query_build(PGconn *conn, const struct registry_type *t, char *const *names,
			   int ncols, const struct jobs_claim *job, long long chunk_rows,
			   struct query *q, struct buf *err) EX_MUST_CHECK;
void query_free(struct query *q);

#endif

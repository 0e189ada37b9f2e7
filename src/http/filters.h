/* filters.h - the "filters" member of POST /exports.
 *
 * The request's flat object {"created_from": ts, "created_to": ts,
 * "<column>": value, ...} is checked against the export type: time bounds
 * only with a created-at column, equality only on filterable columns, each
 * value cast by PostgreSQL to the column's type (always as a parameter).
 * What passes becomes the stored form (jobs/filterspec.h), bounds in UTC
 * with microseconds.
 */
#ifndef EXPORTD_FILTERS_H
#define EXPORTD_FILTERS_H

#include <json-c/json.h>
#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"
#include "http/problem.h"
#include "jobs/registry.h"

/* Field errors ("filters", "filters/<name>") go to p.  EX_OK: checked;
 * *out is the stored form's text (a new string the caller frees) when p got
 * no error from here, else NULL.  Any other status: the database failed
 * (err says how). */
enum ex_status filters_check(PGconn *conn, const struct registry_type *t,
			     struct json_object *filters, struct problem *p, char **out,
			     struct buf *err) EX_MUST_CHECK;

#endif

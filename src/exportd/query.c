#include "exportd/query.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"

#define QUERY_TEXTOID 25

/* Text for both statements. */
static enum ex_status query_puts(struct query *q, const char *text)
{
	enum ex_status st = buf_puts(&q->first, text);

	return st == EX_OK ? buf_puts(&q->next, text) : st;
}

/* _src."ident" into both statements. */
static enum ex_status query_col(struct query *q, PGconn *conn, const char *ident)
{
	struct buf quoted;
	enum ex_status st;

	buf_init(&quoted, 1024);
	st = buf_puts(&quoted, "_src.");
	st = st == EX_OK ? db_quote_ident(conn, ident, &quoted) : st;
	st = st == EX_OK ? query_puts(q, buf_str(&quoted)) : st;
	buf_free(&quoted);
	return st;
}

/* A new parameter holding value, referenced as "$n<cast>". */
static enum ex_status query_param(struct query *q, const char *value, const char *cast)
{
	char ref[48];

	if (q->nparams >= QUERY_MAX_PARAMS) {
		return EX_ETOOBIG;
	}
	q->values[q->nparams++] = value;
	snprintf(ref, sizeof(ref), "$%d%s", q->nparams, cast);
	return query_puts(q, ref);
}

/* " AND _src."col"<op>$n<cast>" */
static enum ex_status query_cond(struct query *q, PGconn *conn, const char *col, const char *op,
				 const char *value, const char *cast)
{
	enum ex_status st = query_puts(q, " AND ");

	st = st == EX_OK ? query_col(q, conn, col) : st;
	st = st == EX_OK ? query_puts(q, op) : st;
	return st == EX_OK ? query_param(q, value, cast) : st;
}

/* SELECT list, FROM, the workspace ($1) and the keyset position ($2). */
static enum ex_status query_head(struct query *q, PGconn *conn, const struct registry_type *t,
				 char *const *names, int ncols)
{
	enum ex_status st = query_puts(q, "SELECT ");
	struct buf rel;
	int i;

	for (i = 0; i < ncols && st == EX_OK; i++) {
		st = query_col(q, conn, names[i]);
		st = st == EX_OK ? query_puts(q, ", ") : st;
	}
	st = st == EX_OK ? query_col(q, conn, t->key_column) : st;
	buf_init(&rel, 1024);
	st = st == EX_OK ? buf_puts(&rel, "::text FROM ") : st;
	st = st == EX_OK ? db_quote_ident(conn, t->schema_name, &rel) : st;
	st = st == EX_OK ? buf_putc(&rel, '.') : st;
	st = st == EX_OK ? db_quote_ident(conn, t->relation, &rel) : st;
	st = st == EX_OK ? buf_puts(&rel, " AS _src WHERE ") : st;
	st = st == EX_OK ? query_puts(q, buf_str(&rel)) : st;
	buf_free(&rel);
	st = st == EX_OK ? query_col(q, conn, t->workspace_column) : st;
	st = st == EX_OK ? query_puts(q, " = ") : st;
	st = st == EX_OK ? query_param(q, NULL, "") : st;
	/* $2 is the last key written: compared in next, declared text in first. */
	if (st == EX_OK) {
		q->values[q->nparams++] = NULL;
		q->first_types[1] = QUERY_TEXTOID;
		st = buf_puts(&q->next, " AND _src.");
		st = st == EX_OK ? db_quote_ident(conn, t->key_column, &q->next) : st;
		st = st == EX_OK ? buf_puts(&q->next, " > $2") : st;
	}
	return st;
}

/* The as-of bound: no key above the largest at creation, no row created
 * after it. */
static enum ex_status query_as_of(struct query *q, PGconn *conn, const struct registry_type *t,
				  const struct jobs_claim *job)
{
	enum ex_status st = EX_OK;

	if (job->as_of_key_set && job->as_of_key == NULL) {
		st = query_puts(q, " AND false"); /* the workspace had no rows */
	} else if (job->as_of_key_set) {
		st = query_cond(q, conn, t->key_column, " <= ", job->as_of_key, "");
	}
	/* A row without a creation time was not created after the bound. */
	if (st == EX_OK && t->created_at_column != NULL && job->as_of != NULL) {
		st = query_puts(q, " AND (");
		st = st == EX_OK ? query_col(q, conn, t->created_at_column) : st;
		st = st == EX_OK ? query_puts(q, " IS NULL OR ") : st;
		st = st == EX_OK ? query_col(q, conn, t->created_at_column) : st;
		st = st == EX_OK ? query_puts(q, " <= ") : st;
		st = st == EX_OK ? query_param(q, job->as_of, "::timestamptz)") : st;
	}
	if (st == EX_OK && t->deleted_at_column != NULL && !job->include_deleted) {
		st = query_puts(q, " AND ");
		st = st == EX_OK ? query_col(q, conn, t->deleted_at_column) : st;
		st = st == EX_OK ? query_puts(q, " IS NULL") : st;
	}
	return st;
}

static enum ex_status query_range(struct query *q, PGconn *conn, const struct registry_type *t,
				  const char *name, const char *op, struct buf *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(q->filters, name, &v) ||
	    json_object_is_type(v, json_type_null)) {
		return EX_OK;
	}
	if (t->created_at_column == NULL || !json_object_is_type(v, json_type_string)) {
		buf_msg(err, "filter %s cannot be applied to type %s", name, t->name);
		return EX_EPERM;
	}
	return query_cond(q, conn, t->created_at_column, op, json_object_get_string(v),
			  "::timestamptz");
}

/* Equality filters; a JSON null means IS NULL. */
static enum ex_status query_equals(struct query *q, PGconn *conn, const struct registry_type *t,
				   struct buf *err)
{
	struct json_object *eq;
	enum ex_status st = EX_OK;

	if (!json_object_object_get_ex(q->filters, "equals", &eq) ||
	    !json_object_is_type(eq, json_type_object)) {
		return EX_OK;
	}
	json_object_object_foreach(eq, col, val)
	{
		if (st != EX_OK) {
			break;
		}
		if (!registry_filterable(t, col)) {
			buf_msg(err, "column \"%s\" can no longer be filtered on for type %s", col,
				t->name);
			return EX_EPERM;
		}
		if (json_object_is_type(val, json_type_array) ||
		    json_object_is_type(val, json_type_object)) {
			buf_msg(err, "filter on \"%s\": a list or object is not a value", col);
			return EX_EINVAL;
		}
		if (json_object_is_type(val, json_type_null)) {
			st = query_puts(q, " AND ");
			st = st == EX_OK ? query_col(q, conn, col) : st;
			st = st == EX_OK ? query_puts(q, " IS NULL") : st;
		} else {
			/* Strings as they are; numbers and booleans as JSON spells them. */
			st = query_cond(q, conn, col, " = ", json_object_get_string(val), "");
		}
	}
	return st;
}

static enum ex_status query_filters(struct query *q, PGconn *conn, const struct registry_type *t,
				    const struct jobs_claim *job, struct buf *err)
{
	enum ex_status st;

	q->filters = job->filters_json != NULL ? json_tokener_parse(job->filters_json) : NULL;
	if (q->filters == NULL || !json_object_is_type(q->filters, json_type_object)) {
		return EX_OK; /* no filters */
	}
	st = query_range(q, conn, t, "created_from", " >= ", err);
	st = st == EX_OK ? query_range(q, conn, t, "created_to", " < ", err) : st;
	return st == EX_OK ? query_equals(q, conn, t, err) : st;
}

enum ex_status query_build(PGconn *conn, const struct registry_type *t, char *const *names,
			   int ncols, const struct jobs_claim *job, long long chunk_rows,
			   struct query *q, struct buf *err)
{
	char tail[64];
	enum ex_status st;

	memset(q, 0, sizeof(*q));
	buf_init(&q->first, 256 * 1024);
	buf_init(&q->next, 256 * 1024);
	st = query_head(q, conn, t, names, ncols);
	st = st == EX_OK ? query_as_of(q, conn, t, job) : st;
	st = st == EX_OK ? query_filters(q, conn, t, job, err) : st;
	st = st == EX_OK ? query_puts(q, " ORDER BY ") : st;
	st = st == EX_OK ? query_col(q, conn, t->key_column) : st;
	snprintf(tail, sizeof(tail), " LIMIT %lld", chunk_rows);
	st = st == EX_OK ? query_puts(q, tail) : st;
	if (st != EX_OK && st != EX_EPERM) {
		buf_msg(err, "%s", "cannot build the export query");
	}
	return st;
}

void query_free(struct query *q)
{
	buf_free(&q->first);
	buf_free(&q->next);
	json_object_put(q->filters);
	q->filters = NULL;
}

#include "exportd/query.h"

#include <stdio.h>
#include <string.h>

#include "db/db.h"

#define QUERY_TEXTOID 25

/* The filters take what the query's own conditions leave. */
_Static_assert(FILTERSPEC_MAX_EQUALS + 10 <= QUERY_MAX_PARAMS, "filters fit the query");

/* Text for both statements. */
static enum ex_status query_puts(struct query *q, const char *text)
{
	enum ex_status st;

	st = buf_puts(&q->first, text);
	if (st) {
		return st;
	}
	return buf_puts(&q->next, text);
}

/* _src."ident" appended to out (filterspec_sql's column callback). */
static enum ex_status query_ref(void *conn, const char *ident, struct buf *out)
{
	enum ex_status st;

	st = buf_puts(out, "_src.");
	if (st) {
		return st;
	}
	return db_quote_ident(conn, ident, out);
}

/* _src."ident" into both statements. */
static enum ex_status query_col(struct query *q, PGconn *conn, const char *ident)
{
	struct buf quoted;
	enum ex_status st;

	buf_init(&quoted, 1024);
	st = query_ref(conn, ident, &quoted);
	if (st) {
		goto out;
	}
	st = query_puts(q, buf_str(&quoted));
out:
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
	enum ex_status st;

	st = query_puts(q, " AND ");
	if (st) {
		return st;
	}
	st = query_col(q, conn, col);
	if (st) {
		return st;
	}
	st = query_puts(q, op);
	if (st) {
		return st;
	}
	return query_param(q, value, cast);
}

/* FROM "schema"."rel" AS _src WHERE, into both statements. */
static enum ex_status query_from(struct query *q, PGconn *conn, const struct registry_type *t)
{
	struct buf rel;
	enum ex_status st;

	buf_init(&rel, 1024);
	st = buf_puts(&rel, "::text FROM ");
	if (st) {
		goto out;
	}
	st = db_quote_ident(conn, t->schema_name, &rel);
	if (st) {
		goto out;
	}
	st = buf_putc(&rel, '.');
	if (st) {
		goto out;
	}
	st = db_quote_ident(conn, t->relation, &rel);
	if (st) {
		goto out;
	}
	st = buf_puts(&rel, " AS _src WHERE ");
	if (st) {
		goto out;
	}
	st = query_puts(q, buf_str(&rel));
out:
	buf_free(&rel);
	return st;
}

/* (_src."upd", _src."key") appended to out. */
static enum ex_status query_pair(PGconn *conn, const struct registry_type *t, struct buf *out)
{
	enum ex_status st;

	st = buf_putc(out, '(');
	if (st) {
		return st;
	}
	st = query_ref(conn, t->updated_at_column, out);
	if (st) {
		return st;
	}
	st = buf_puts(out, ", ");
	if (st) {
		return st;
	}
	st = query_ref(conn, t->key_column, out);
	if (st) {
		return st;
	}
	return buf_putc(out, ')');
}

/* The keyset position in next: after the last key ($2), or after the
 * last (change time, key) ($3, $2) of an incremental job. */
static enum ex_status query_after(struct query *q, PGconn *conn, const struct registry_type *t,
				  int incremental)
{
	enum ex_status st;

	st = buf_puts(&q->next, " AND ");
	if (st) {
		return st;
	}
	if (!incremental) {
		st = query_ref(conn, t->key_column, &q->next);
		if (st) {
			return st;
		}
		return buf_puts(&q->next, " > $2");
	}
	st = query_pair(conn, t, &q->next);
	if (st) {
		return st;
	}
	return buf_puts(&q->next, " > ($3::timestamptz, $2)");
}

/* The workspace ($1) and the keyset position ($2, with $3 incremental). */
static enum ex_status query_keyset(struct query *q, PGconn *conn, const struct registry_type *t,
				   int incremental)
{
	enum ex_status st;

	st = query_col(q, conn, t->workspace_column);
	if (st) {
		return st;
	}
	st = query_puts(q, " = ");
	if (st) {
		return st;
	}
	st = query_param(q, NULL, "");
	if (st) {
		return st;
	}
	/* $2 is the last key written (and $3 its change time): compared in
	 * next, declared text in first. */
	q->values[q->nparams++] = NULL;
	q->first_types[1] = QUERY_TEXTOID;
	if (incremental) {
		q->values[q->nparams++] = NULL;
		q->first_types[2] = QUERY_TEXTOID;
	}
	return query_after(q, conn, t, incremental);
}

/* An incremental export's marker: the deletion time, NULL for a live row
 * (and for every row of a type without soft delete). */
static enum ex_status query_marker(struct query *q, PGconn *conn, const struct registry_type *t)
{
	enum ex_status st;

	if (t->deleted_at_column == NULL) {
		st = query_puts(q, "NULL::timestamptz");
	} else {
		st = query_col(q, conn, t->deleted_at_column);
	}
	if (st) {
		return st;
	}
	return query_puts(q, " AS _deleted_at, ");
}

/* SELECT list, FROM, the workspace and the keyset position. */
static enum ex_status query_head(struct query *q, PGconn *conn, const struct registry_type *t,
				 char *const *names, int ncols, int incremental)
{
	enum ex_status st;
	int i;

	st = query_puts(q, "SELECT ");
	if (st) {
		return st;
	}
	for (i = 0; i < ncols; i++) {
		st = query_col(q, conn, names[i]);
		if (st) {
			return st;
		}
		st = query_puts(q, ", ");
		if (st) {
			return st;
		}
	}
	if (incremental) {
		st = query_marker(q, conn, t);
		if (st) {
			return st;
		}
	}
	st = query_col(q, conn, t->key_column);
	if (st) {
		return st;
	}
	if (incremental) {
		st = query_puts(q, "::text, ");
		if (st) {
			return st;
		}
		st = query_col(q, conn, t->updated_at_column);
		if (st) {
			return st;
		}
	}
	st = query_from(q, conn, t);
	if (st) {
		return st;
	}
	return query_keyset(q, conn, t, incremental);
}

/* After the cursor, up to the window's end. */
static enum ex_status query_since(struct query *q, PGconn *conn, const struct registry_type *t,
				  const struct query_window *w)
{
	struct buf pair;
	enum ex_status st;

	if (w->key == NULL) {
		st = query_cond(q, conn, t->updated_at_column, " >= ", w->at, "::timestamptz");
		if (st) {
			return st;
		}
		return query_cond(q, conn, t->updated_at_column, " <= ", w->until, "::timestamptz");
	}
	buf_init(&pair, 1024);
	st = buf_puts(&pair, " AND ");
	if (st) {
		goto out;
	}
	st = query_pair(conn, t, &pair);
	if (st) {
		goto out;
	}
	st = buf_puts(&pair, " > (");
	if (st) {
		goto out;
	}
	st = query_puts(q, buf_str(&pair));
	if (st) {
		goto out;
	}
	st = query_param(q, w->at, "::timestamptz, ");
	if (st) {
		goto out;
	}
	st = query_param(q, w->key, ")");
	if (st) {
		goto out;
	}
	st = query_cond(q, conn, t->updated_at_column, " <= ", w->until, "::timestamptz");
out:
	buf_free(&pair);
	return st;
}

/* " AND _src."col" IS NULL" */
static enum ex_status query_is_null(struct query *q, PGconn *conn, const char *col)
{
	enum ex_status st;

	st = query_puts(q, " AND ");
	if (st) {
		return st;
	}
	st = query_col(q, conn, col);
	if (st) {
		return st;
	}
	return query_puts(q, " IS NULL");
}

/* No row created after the as-of time; a row without a creation time was
 * not created after it. */
static enum ex_status query_as_of_time(struct query *q, PGconn *conn, const char *col,
				       const char *as_of)
{
	enum ex_status st;

	st = query_puts(q, " AND (");
	if (st) {
		return st;
	}
	st = query_col(q, conn, col);
	if (st) {
		return st;
	}
	st = query_puts(q, " IS NULL OR ");
	if (st) {
		return st;
	}
	st = query_col(q, conn, col);
	if (st) {
		return st;
	}
	st = query_puts(q, " <= ");
	if (st) {
		return st;
	}
	return query_param(q, as_of, "::timestamptz)");
}

/* The as-of bound: no key above the largest at creation, no row created
 * after it; and soft-deleted rows left out unless asked for (or the
 * export is incremental: a deletion is a change). */
static enum ex_status query_as_of(struct query *q, PGconn *conn, const struct registry_type *t,
				  const struct jobs_claim *job, int incremental)
{
	enum ex_status st = EX_OK;

	if (job->as_of_key_set && job->as_of_key == NULL) {
		st = query_puts(q, " AND false"); /* the workspace had no rows */
	} else if (job->as_of_key_set) {
		st = query_cond(q, conn, t->key_column, " <= ", job->as_of_key, "");
	}
	if (st) {
		return st;
	}
	if (t->created_at_column != NULL && job->as_of != NULL) {
		st = query_as_of_time(q, conn, t->created_at_column, job->as_of);
		if (st) {
			return st;
		}
	}
	if (t->deleted_at_column != NULL && !job->include_deleted && !incremental) {
		st = query_is_null(q, conn, t->deleted_at_column);
	}
	return st;
}

/* The job's filters (parsed into q->filters), into both statements. */
static enum ex_status query_filters(struct query *q, PGconn *conn, const struct registry_type *t,
				    struct buf *err)
{
	struct filterspec_sql out = {
		.values = q->values,
		.nparams = &q->nparams,
		.maxparams = QUERY_MAX_PARAMS,
		.column = query_ref,
		.column_ctx = conn,
	};
	struct buf conds;
	enum ex_status st;

	buf_init(&conds, 256 * 1024UL);
	out.sql = &conds;
	st = filterspec_sql(&q->filters, t, &out, err);
	if (st) {
		goto out;
	}
	st = query_puts(q, buf_str(&conds));
out:
	buf_free(&conds);
	return st;
}

/* ORDER BY the key (an incremental job: change time, key), one chunk at
 * a time. */
static enum ex_status query_tail(struct query *q, PGconn *conn, const struct registry_type *t,
				 int incremental, long long chunk_rows)
{
	char tail[64];
	enum ex_status st;

	st = query_puts(q, " ORDER BY ");
	if (st) {
		return st;
	}
	if (incremental) {
		st = query_col(q, conn, t->updated_at_column);
		if (st) {
			return st;
		}
		st = query_puts(q, ", ");
		if (st) {
			return st;
		}
	}
	st = query_col(q, conn, t->key_column);
	if (st) {
		return st;
	}
	snprintf(tail, sizeof(tail), " LIMIT %lld", chunk_rows);
	return query_puts(q, tail);
}

enum ex_status query_build(PGconn *conn, const struct registry_type *t, char *const *names,
			   int ncols, const struct jobs_claim *job,
			   const struct query_window *window, long long chunk_rows, struct query *q,
			   struct buf *err)
{
	int incremental = window != NULL;
	enum ex_status st;

	memset(q, 0, sizeof(*q));
	buf_init(&q->first, 256 * 1024UL);
	buf_init(&q->next, 256 * 1024UL);
	filterspec_init(&q->filters);
	/* A job inserted by SQL may hold anything: say what is wrong with it. */
	st = filterspec_parse(job->filters_json, &q->filters, err);
	if (st) {
		return st;
	}
	st = query_head(q, conn, t, names, ncols, incremental);
	if (st) {
		goto out;
	}
	if (incremental) {
		st = query_since(q, conn, t, window);
		if (st) {
			goto out;
		}
	}
	st = query_as_of(q, conn, t, job, incremental);
	if (st) {
		goto out;
	}
	st = query_filters(q, conn, t, err);
	if (st) {
		goto out;
	}
	st = query_tail(q, conn, t, incremental, chunk_rows);
out:
	/* A filter the type no longer allows is told as it is. */
	if (st && st != EX_EPERM) {
		buf_msg(err, "%s", "cannot build the export query");
	}
	return st;
}

void query_free(struct query *q)
{
	buf_free(&q->first);
	buf_free(&q->next);
	filterspec_free(&q->filters);
}

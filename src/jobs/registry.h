/* registry.h - export_types: which relations may be exported, and how;
 * its statements are sql/statements/registry.sql. */
#ifndef EXPORTD_REGISTRY_H
#define EXPORTD_REGISTRY_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"

struct registry_type {
	char *name;
	char *schema_name;
	char *relation;
	char *key_column;
	char *workspace_column;
	char **columns; /* allowed columns, default order */
	int ncolumns;
	char **filterable; /* columns equality filters may name */
	int nfilterable;
	char *created_at_column; /* NULL: none (no created_from/to, no as-of time) */
	char *deleted_at_column; /* NULL: no soft delete */
	char *updated_at_column; /* NULL: no incremental exports (timestamptz) */
	char **labels;		 /* ncolumns entries: columns[i]'s label, NULL: none */
};

/* Load a type by name; EX_ENOTFOUND when there is none. */
enum ex_status registry_load(PGconn *conn, const char *name, struct registry_type *out,
			     struct buf *err) EX_MUST_CHECK;
void registry_free(struct registry_type *t);
/* The as-of key of a new job: the largest key of workspace's rows in t's
 * source, read now, as text in *key (malloc'd; NULL when the workspace has
 * no rows).  EX_EPERM when the source cannot be read (relation or column
 * gone, no privilege), EX_EINVAL when workspace does not fit its column. */
enum ex_status registry_as_of_key(PGconn *conn, const struct registry_type *t,
				  const char *workspace, char **key, struct buf *err) EX_MUST_CHECK;
/* Do at and key (NULL: none), an incremental cursor's position, read as
 * a timestamptz and a value of t's key?  EX_EINVAL when not (err says
 * the server's words), EX_EPERM when the source cannot be read. */
enum ex_status registry_since_check(PGconn *conn, const struct registry_type *t, const char *at,
				    const char *key, struct buf *err) EX_MUST_CHECK;
/* What request filters may name for type name: one row (none when there
 * is no such type) of created_at_column (NULL: none), filterable_columns
 * (JSON array) and column_types (JSON object column -> SQL type, from the
 * catalog; {} when the relation is gone).  Read by name with db_text(). */
enum ex_status registry_filter_meta(PGconn *conn, const char *name, PGresult **res,
				    struct buf *err) EX_MUST_CHECK;
/* Is workspace the canonical text of type name's tenant column, the one
 * spelling of its tenant (CAST(workspace AS <column type>)::text =
 * workspace)?  EX_OK: yes, or the column cannot be found (the job fails on
 * its own when it runs); EX_EINVAL: no, err says why (the tenant's
 * spelling, or that it does not cast); else the database failed. */
enum ex_status registry_workspace_check(PGconn *conn, const char *name, const char *workspace,
					struct buf *err) EX_MUST_CHECK;
/* The header text of column with `header: labels`: its label in
 * export_types.column_labels, or column itself when it has none. */
const char *registry_label(const struct registry_type *t, const char *column);
/* Is zone a name of pg_timezone_names?  *known says. */
enum ex_status registry_timezone_known(PGconn *conn, const char *zone, int *known,
				       struct buf *err) EX_MUST_CHECK;
/* Zone's offset from UTC in seconds at instant at (seconds since the
 * epoch), as PostgreSQL's zone data has it. */
enum ex_status registry_timezone_offset(PGconn *conn, const char *zone, long long at,
					long long *offset, struct buf *err) EX_MUST_CHECK;
/* Index of column in t->columns, or -1. */
int registry_column_index(const struct registry_type *t, const char *column);
/* Is column one equality filters may name? */
int registry_filterable(const struct registry_type *t, const char *column);

/* exportctl doctor: one row per type (registry.sql registry_doctor):
 * name, relation_ok, key_ok, workspace_ok, index_ok, not_granted. */
enum ex_status registry_doctor(PGconn *conn, PGresult **res, struct buf *err) EX_MUST_CHECK;

#endif

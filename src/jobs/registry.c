/* registry.c - owns export_types (sql/statements/registry.sql) and the
 * as-of-key read of a type's source. */
#include "jobs/registry.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "jobs/registry_sql.h"

static enum ex_status registry_list(const char *json_text, char ***out, int *count)
{
	struct json_object *arr = json_tokener_parse(json_text);
	size_t i, n;
	enum ex_status st = EX_OK;

	if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		return EX_EINVAL;
	}
	n = json_object_array_length(arr);
	*out = calloc(n + 1, sizeof(char *));
	if (*out == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		(*out)[i] = strdup(json_object_get_string(json_object_array_get_idx(arr, i)));
		if ((*out)[i] == NULL) {
			st = EX_ENOMEM;
			goto out;
		}
		(*count)++;
	}
out:
	json_object_put(arr);
	return st;
}

#define REGISTRY(name, kind, member)                                                               \
	{                                                                                          \
		name, kind, offsetof(struct registry_type, member)                                 \
	}
static const struct db_field registry_fields[] = {
	REGISTRY("name", DB_DUP, name),
	REGISTRY("schema_name", DB_DUP, schema_name),
	REGISTRY("relation", DB_DUP, relation),
	REGISTRY("key_column", DB_DUP, key_column),
	REGISTRY("workspace_column", DB_DUP, workspace_column),
	REGISTRY("created_at_column", DB_DUP, created_at_column),
	REGISTRY("deleted_at_column", DB_DUP, deleted_at_column),
	REGISTRY("updated_at_column", DB_DUP, updated_at_column),
};
#define REGISTRY_NFIELDS (sizeof(registry_fields) / sizeof(registry_fields[0]))

/* The labels, one per column (JSON array, null where none). */
static enum ex_status registry_labels(const char *json_text, struct registry_type *out)
{
	struct json_object *arr = json_tokener_parse(json_text), *v;
	enum ex_status st = EX_OK;
	int i;

	if (arr == NULL || !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) != (size_t)out->ncolumns) {
		json_object_put(arr);
		return EX_EINVAL;
	}
	out->labels = calloc((size_t)out->ncolumns + 1, sizeof(char *));
	if (out->labels == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	for (i = 0; i < out->ncolumns; i++) {
		v = json_object_array_get_idx(arr, (size_t)i);
		if (v != NULL && json_object_is_type(v, json_type_string)) {
			out->labels[i] = strdup(json_object_get_string(v));
			if (out->labels[i] == NULL) {
				st = EX_ENOMEM;
				goto out;
			}
		}
	}
out:
	json_object_put(arr);
	return st;
}

/* The row into out; the lists come as JSON arrays. */
static enum ex_status registry_fill(const PGresult *res, struct registry_type *out)
{
	const char *columns = db_text(res, 0, "columns");
	const char *filterable = db_text(res, 0, "filterable_columns");
	const char *labels = db_text(res, 0, "column_labels");
	enum ex_status st;

	st = db_fields_read(res, 0, registry_fields, REGISTRY_NFIELDS, out);
	if (st) {
		return st;
	}
	if (out->name == NULL || out->schema_name == NULL || out->relation == NULL ||
	    out->key_column == NULL || out->workspace_column == NULL) {
		return EX_ENOMEM;
	}
	st = registry_list(columns != NULL ? columns : "", &out->columns, &out->ncolumns);
	if (st) {
		return st;
	}
	st = registry_list(filterable != NULL ? filterable : "", &out->filterable,
			   &out->nfilterable);
	if (st) {
		return st;
	}
	return registry_labels(labels != NULL ? labels : "", out);
}

enum ex_status registry_load(PGconn *conn, const char *name, struct registry_type *out,
			     struct buf *err)
{
	const char *params[1] = {name};
	PGresult *res = NULL;
	enum ex_status st;

	memset(out, 0, sizeof(*out));
	st = db_exec(conn, registry_load_sql, 1, params, &res, err);
	if (st) {
		return st;
	}
	st = db_fields_check(res, registry_fields, REGISTRY_NFIELDS, err);
	if (st) {
		goto out;
	}
	if (PQntuples(res) != 1) {
		st = EX_ENOTFOUND;
		goto out;
	}
	st = registry_fill(res, out);
out:
	PQclear(res);
	if (st) {
		registry_free(out);
	}
	return st;
}

enum ex_status registry_since_check(PGconn *conn, const struct registry_type *t, const char *at,
				    const char *key, struct buf *err)
{
	static const char *const names[] = {"key", "schema", "relation"};
	const char *values[] = {t->key_column, t->schema_name, t->relation};
	const char *params[2] = {at, key};
	PGresult *res = NULL;
	struct buf sql;
	enum ex_status st;

	buf_init(&sql, 4096);
	st = db_fill(conn, registry_since_check_sql, names, values, 3, &sql);
	if (st) {
		buf_msg(err, "cannot build the cursor check: %s", status_strerror(st));
		goto out;
	}
	st = db_exec(conn, buf_str(&sql), 2, params, &res, err);
out:
	PQclear(res);
	buf_free(&sql);
	return st;
}

enum ex_status registry_as_of_key(PGconn *conn, const struct registry_type *t,
				  const char *workspace, char **key, struct buf *err)
{
	static const char *const names[] = {"key", "schema", "relation", "workspace"};
	const char *values[] = {t->key_column, t->schema_name, t->relation, t->workspace_column};
	const char *params[1] = {workspace};
	const char *v;
	PGresult *res = NULL;
	struct buf sql;
	enum ex_status st;

	*key = NULL;
	buf_init(&sql, 4096);
	st = db_fill(conn, registry_as_of_key_sql, names, values, 4, &sql);
	if (st) {
		buf_msg(err, "cannot build the as-of query: %s", status_strerror(st));
		goto out;
	}
	st = db_exec(conn, buf_str(&sql), 1, params, &res, err);
	if (st) {
		goto out;
	}
	v = PQntuples(res) == 1 ? db_text(res, 0, "as_of_key") : NULL;
	*key = v != NULL ? strdup(v) : NULL;
	st = v != NULL && *key == NULL ? EX_ENOMEM : EX_OK;
out:
	PQclear(res);
	buf_free(&sql);
	return st;
}

enum ex_status registry_filter_meta(PGconn *conn, const char *name, PGresult **res, struct buf *err)
{
	static const struct db_field fields[] = {{"created_at_column", DB_TEXT, 0},
						 {"filterable_columns", DB_TEXT, 0},
						 {"column_types", DB_TEXT, 0}};
	const char *params[1] = {name};
	enum ex_status st;

	st = db_exec(conn, registry_filter_meta_sql, 1, params, res, err);
	if (st) {
		return st;
	}
	st = db_fields_check(*res, fields, sizeof(fields) / sizeof(fields[0]), err);
	if (st) {
		PQclear(*res);
		*res = NULL;
	}
	return st;
}

enum ex_status registry_workspace_check(PGconn *conn, const char *name, const char *workspace,
					struct buf *err)
{
	static const struct db_field fields[] = {
		{"column_type", DB_TEXT, 0}, {"canonical", DB_TEXT, 0}, {"ok", DB_TEXT, 0}};
	const char *params[2] = {name, workspace};
	const char *ok, *canonical;
	PGresult *res = NULL;
	enum ex_status st;

	st = db_exec(conn, registry_workspace_check_sql, 2, params, &res, err);
	if (st) {
		return st;
	}
	st = db_fields_check(res, fields, sizeof(fields) / sizeof(fields[0]), err);
	if (st) {
		goto out;
	}
	ok = PQntuples(res) == 1 ? db_text(res, 0, "ok") : NULL;
	if (ok == NULL || ok[0] == 't') {
		goto out;
	}
	canonical = db_text(res, 0, "canonical");
	buf_msg(err,
		"workspace \"%s\" is not the canonical text of type %s's tenant column (%s): "
		"%s%s%s",
		workspace, name, db_text(res, 0, "column_type"),
		canonical != NULL ? "that tenant is spelled \"" : "it does not cast",
		canonical != NULL ? canonical : "", canonical != NULL ? "\"" : "");
	st = EX_EINVAL;
out:
	PQclear(res);
	return st;
}

static void registry_free_list(char **list, int n)
{
	int i;

	for (i = 0; list != NULL && i < n; i++) {
		free(list[i]);
	}
	free(list);
}

void registry_free(struct registry_type *t)
{
	registry_free_list(t->columns, t->ncolumns);
	registry_free_list(t->filterable, t->nfilterable);
	registry_free_list(t->labels, t->ncolumns);
	free(t->created_at_column);
	free(t->deleted_at_column);
	free(t->updated_at_column);
	free(t->name);
	free(t->schema_name);
	free(t->relation);
	free(t->key_column);
	free(t->workspace_column);
	memset(t, 0, sizeof(*t));
}

int registry_filterable(const struct registry_type *t, const char *column)
{
	int i;

	for (i = 0; i < t->nfilterable; i++) {
		if (strcmp(t->filterable[i], column) == 0) {
			return 1;
		}
	}
	return 0;
}

const char *registry_label(const struct registry_type *t, const char *column)
{
	int i = registry_column_index(t, column);

	return i >= 0 && t->labels != NULL && t->labels[i] != NULL ? t->labels[i] : column;
}

enum ex_status registry_timezone_known(PGconn *conn, const char *zone, int *known, struct buf *err)
{
	const char *params[1] = {zone};
	PGresult *res = NULL;
	const char *v;
	enum ex_status st;

	*known = 0;
	st = db_exec(conn, registry_timezone_known_sql, 1, params, &res, err);
	if (st) {
		return st;
	}
	v = db_text(res, 0, "known");
	*known = v != NULL && strcmp(v, "t") == 0;
	PQclear(res);
	return EX_OK;
}

enum ex_status registry_timezone_offset(PGconn *conn, const char *zone, long long at,
					long long *offset, struct buf *err)
{
	char when[32];
	const char *params[2] = {zone, when};
	PGresult *res = NULL;
	const char *v;
	enum ex_status st;

	snprintf(when, sizeof(when), "%lld", at);
	st = db_exec(conn, registry_timezone_offset_sql, 2, params, &res, err);
	if (st) {
		return st;
	}
	v = db_text(res, 0, "utc_offset");
	if (v == NULL) {
		buf_msg(err, "no offset for time zone \"%s\"", zone);
		st = EX_EINVAL;
	} else {
		*offset = strtoll(v, NULL, 10);
	}
	PQclear(res);
	return st;
}

int registry_column_index(const struct registry_type *t, const char *column)
{
	int i;

	for (i = 0; i < t->ncolumns; i++) {
		if (strcmp(t->columns[i], column) == 0) {
			return i;
		}
	}
	return -1;
}

enum ex_status registry_doctor(PGconn *conn, PGresult **res, struct buf *err)
{
	return db_exec(conn, registry_doctor_sql, 0, NULL, res, err);
}

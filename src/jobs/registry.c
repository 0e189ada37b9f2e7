#include "jobs/registry.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

static enum ex_status registry_columns(const char *json_text, struct registry_type *t)
{
	struct json_object *arr = json_tokener_parse(json_text);
	size_t i, n;
	enum ex_status st = EX_OK;

	if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		return EX_EINVAL;
	}
	n = json_object_array_length(arr);
	t->columns = calloc(n + 1, sizeof(char *));
	if (t->columns == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		t->columns[i] = strdup(json_object_get_string(json_object_array_get_idx(arr, i)));
		if (t->columns[i] == NULL) {
			st = EX_ENOMEM;
			goto out;
		}
		t->ncolumns++;
	}
out:
	json_object_put(arr);
	return st;
}

static char *registry_dup(const PGresult *res, int col)
{
	return strdup(PQgetvalue(res, 0, col));
}

enum ex_status registry_load(PGconn *conn, const char *name, struct registry_type *out,
			     struct buf *err)
{
	const char *params[1] = {name};
	PGresult *res = NULL;
	enum ex_status st;

	memset(out, 0, sizeof(*out));
	st = db_exec(conn,
		     "SELECT name, schema_name, relation, key_column, workspace_column,"
		     " to_json(columns) FROM export_types WHERE name = $1",
		     1, params, &res, err);
	if (st != EX_OK) {
		return st;
	}
	if (PQntuples(res) != 1) {
		st = EX_ENOTFOUND;
		goto out;
	}
	out->name = registry_dup(res, 0);
	out->schema_name = registry_dup(res, 1);
	out->relation = registry_dup(res, 2);
	out->key_column = registry_dup(res, 3);
	out->workspace_column = registry_dup(res, 4);
	if (out->name == NULL || out->schema_name == NULL || out->relation == NULL ||
	    out->key_column == NULL || out->workspace_column == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	st = registry_columns(PQgetvalue(res, 0, 5), out);
out:
	PQclear(res);
	if (st != EX_OK) {
		registry_free(out);
	}
	return st;
}

void registry_free(struct registry_type *t)
{
	int i;

	for (i = 0; t->columns != NULL && i < t->ncolumns; i++) {
		free(t->columns[i]);
	}
	free(t->columns);
	free(t->name);
	free(t->schema_name);
	free(t->relation);
	free(t->key_column);
	free(t->workspace_column);
	memset(t, 0, sizeof(*t));
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

#include "jobs/registry.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

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
		     " to_json(columns), to_json(filterable_columns), created_at_column,"
		     " deleted_at_column FROM export_types WHERE name = $1",
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
	if (db_value(res, 0, 7) != NULL) {
		out->created_at_column = registry_dup(res, 7);
	}
	if (db_value(res, 0, 8) != NULL) {
		out->deleted_at_column = registry_dup(res, 8);
	}
	if ((db_value(res, 0, 7) != NULL && out->created_at_column == NULL) ||
	    (db_value(res, 0, 8) != NULL && out->deleted_at_column == NULL)) {
		st = EX_ENOMEM;
		goto out;
	}
	st = registry_list(PQgetvalue(res, 0, 5), &out->columns, &out->ncolumns);
	if (st == EX_OK) {
		st = registry_list(PQgetvalue(res, 0, 6), &out->filterable, &out->nfilterable);
	}
out:
	PQclear(res);
	if (st != EX_OK) {
		registry_free(out);
	}
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
	free(t->created_at_column);
	free(t->deleted_at_column);
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

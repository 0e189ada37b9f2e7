/* ctl.c - exportctl's shared helpers (ctl.h). */
#include "exportctl/ctl.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

/* PostgreSQL type oids (pg_type.h) printed as JSON of their own kind. */
#define CTL_BOOLOID  16
#define CTL_INT8OID  20
#define CTL_INT2OID  21
#define CTL_INT4OID  23
#define CTL_JSONOID  114
#define CTL_JSONBOID 3802

const char *ctl_option(int argc, char **argv, const char *name)
{
	int i;

	for (i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], name) == 0) {
			return argv[i + 1];
		}
	}
	return NULL;
}

int ctl_flag(int argc, char **argv, const char *name)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], name) == 0) {
			return 1;
		}
	}
	return 0;
}

int ctl_fail(struct ctl *c, const char *what)
{
	fprintf(stderr, "exportctl: %s: %s\n", what, buf_str(&c->err));
	return 1;
}

static struct json_object *ctl_json_value(const PGresult *res, int row, int col)
{
	const char *v = db_value(res, row, col);

	if (v == NULL) {
		return NULL;
	}
	switch (PQftype(res, col)) {
	case CTL_BOOLOID:
		return json_object_new_boolean(v[0] == 't');
	case CTL_INT2OID:
	case CTL_INT4OID:
	case CTL_INT8OID:
		return json_object_new_int64(strtoll(v, NULL, 10));
	case CTL_JSONOID:
	case CTL_JSONBOID:
		return json_tokener_parse(v);
	default:
		return json_object_new_string(v);
	}
}

static struct json_object *ctl_json_row(const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();
	int col;

	for (col = 0; o != NULL && col < PQnfields(res); col++) {
		json_object_object_add(o, PQfname(res, col), ctl_json_value(res, row, col));
	}
	return o;
}

static void ctl_print_json(const PGresult *res)
{
	struct json_object *a = json_object_new_array();
	int r;

	for (r = 0; a != NULL && r < PQntuples(res); r++) {
		json_object_array_add(a, ctl_json_row(res, r));
	}
	printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(a);
}

static void ctl_print_tsv(const PGresult *res)
{
	int r, col, n = PQnfields(res);

	for (col = 0; col < n; col++) {
		printf("%s%s", col ? "\t" : "", PQfname(res, col));
	}
	printf("\n");
	for (r = 0; r < PQntuples(res); r++) {
		for (col = 0; col < n; col++) {
			const char *v = db_value(res, r, col);

			printf("%s%s", col ? "\t" : "", v != NULL ? v : "-");
		}
		printf("\n");
	}
}

int ctl_listing(struct ctl *c, enum ex_status st, PGresult *res, int json)
{
	if (st) {
		return ctl_fail(c, "query");
	}
	if (json) {
		ctl_print_json(res);
	} else {
		ctl_print_tsv(res);
	}
	PQclear(res);
	return 0;
}

void ctl_print_record(const PGresult *res, int json)
{
	struct json_object *o;
	int col;

	if (json) {
		o = ctl_json_row(res, 0);
		printf("%s\n",
		       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return;
	}
	for (col = 0; col < PQnfields(res); col++) {
		const char *v = db_value(res, 0, col);

		printf("%-20s %s\n", PQfname(res, col), v != NULL ? v : "-");
	}
}

/* filters.c - the HTTP side of POST /exports' "filters": the checks that
 * need the database, and their field errors. */
#include "http/filters.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "jobs/filterspec.h"

/* The stored form may be twice the request: json-c writes "/" as "\/".
 * Twice http.body_limit's ceiling, with room for the normalised bounds. */
#define FILTERS_STORED_CAP (32u * 1024 * 1024 + 4096)

/* What the registry and the catalog say about a type's filters. */
struct filters_meta {
	PGresult *res;
	const char *created_at;		/* created-at column, NULL: none */
	struct json_object *filterable; /* array of column names */
	struct json_object *types;	/* column -> SQL type (format_type) */
};

/* A stored bound: normalised text and its epoch, for the order check. */
struct filters_bound {
	char text[64];
	double epoch;
	int ok;
};

/* A failure the client's value caused: a data exception (class 22). */
static int filters_data_error(const char *state)
{
	return strncmp(state, "22", 2) == 0;
}

/* Casting a value to a column's type may also fail with class 23 (a
 * domain's CHECK) or 42 (a reg* type naming something that does not
 * exist): the value's fault as well, since the statement is ours. */
static int filters_cast_error(const char *state)
{
	return filters_data_error(state) || strncmp(state, "23", 2) == 0 ||
	       strncmp(state, "42", 2) == 0;
}

static enum ex_status filters_meta_load(PGconn *conn, const char *type, struct filters_meta *m,
					struct buf *err)
{
	enum ex_status st;

	memset(m, 0, sizeof(*m));
	st = registry_filter_meta(conn, type, &m->res, err);
	if (st) {
		return st;
	}
	if (PQntuples(m->res) == 1) {
		m->created_at = db_text(m->res, 0, "created_at_column");
		m->filterable = json_tokener_parse(db_text(m->res, 0, "filterable_columns"));
		m->types = json_tokener_parse(db_text(m->res, 0, "column_types"));
	}
	return EX_OK;
}

static void filters_meta_free(struct filters_meta *m)
{
	json_object_put(m->filterable);
	json_object_put(m->types);
	PQclear(m->res);
	memset(m, 0, sizeof(*m));
}

static int filters_is_filterable(const struct filters_meta *m, const char *name)
{
	size_t i, n;

	if (!json_object_is_type(m->filterable, json_type_array)) {
		return 0;
	}
	n = json_object_array_length(m->filterable);
	for (i = 0; i < n; i++) {
		if (strcmp(json_object_get_string(json_object_array_get_idx(m->filterable, i)),
			   name) == 0) {
			return 1;
		}
	}
	return 0;
}

/* Is s an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm),
 * T and Z in either case)?  Shape only; the calendar is PostgreSQL's. */
static int filters_rfc3339(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i;

	/* A NUL in s fails the comparison before anything past it is read. */
	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd'   ? !isdigit((unsigned char)s[i])
		    : shape[i] == 'T' ? s[i] != 'T' && s[i] != 't'
				      : s[i] != shape[i]) {
			return 0;
		}
	}
	s += i;
	if (*s == '.') {
		if (!isdigit((unsigned char)s[1])) {
			return 0;
		}
		s++;
		while (isdigit((unsigned char)*s)) {
			s++;
		}
	}
	if (*s == 'Z' || *s == 'z') {
		return s[1] == '\0';
	}
	return (*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
	       isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
	       isdigit((unsigned char)s[5]) && s[6] == '\0';
}

/* created_from / created_to: shape here, calendar and normalisation (UTC,
 * microseconds) by PostgreSQL. */
static enum ex_status filters_bound(PGconn *conn, const char *name, struct json_object *v,
				    struct problem *p, struct filters_bound *b, struct buf *err)
{
	const char *str = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	const char *params[1];
	char copy[64], state[6] = "";
	PGresult *res = NULL;
	enum ex_status st;
	size_t i;

	if (strlen(str) >= sizeof(copy) || !filters_rfc3339(str)) {
		problem_add_member(p, "filters", name,
				   "must be an RFC 3339 date-time string such as "
				   "\"2024-01-31T00:00:00Z\" or \"2024-01-31T01:00:00+01:00\"");
		return EX_OK;
	}
	for (i = 0; str[i] != '\0'; i++) {
		copy[i] = (char)toupper((unsigned char)str[i]);
	}
	copy[i] = '\0';
	params[0] = copy;
	st = db_exec_state(conn,
			   "SELECT to_char($1::timestamptz AT TIME ZONE 'UTC',"
			   " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
			   " extract(epoch FROM $1::timestamptz)::float8",
			   1, params, &res, state, err);
	if (st && filters_data_error(state)) {
		problem_add_member(p, "filters", name, "is not a valid date and time");
		return EX_OK;
	}
	if (st) {
		return st;
	}
	snprintf(b->text, sizeof(b->text), "%s", PQgetvalue(res, 0, 0));
	b->epoch = strtod(PQgetvalue(res, 0, 1), NULL);
	b->ok = 1;
	PQclear(res);
	return EX_OK;
}

/* Ask PostgreSQL whether the value is one of the column's type. */
static enum ex_status filters_cast(PGconn *conn, const char *name, const char *sqltype,
				   const char *text, struct problem *p, int *ok, struct buf *err)
{
	const char *params[1] = {text};
	char state[6] = "", detail[600], msg[400];
	PGresult *res = NULL;
	struct buf sql;
	enum ex_status st;

	*ok = 0;
	buf_init(&sql, 4096);
	/* sqltype is format_type()'s output for the catalog's column: SQL
	 * PostgreSQL wrote itself.  The value only ever travels as $1. */
	st = buf_printf(&sql, "SELECT CAST($1 AS %s)", sqltype);
	if (st) {
		goto out;
	}
	st = db_exec_state(conn, buf_str(&sql), 1, params, &res, state, err);
	if (st && filters_cast_error(state)) {
		problem_clip(buf_str(err), msg, sizeof(msg));
		snprintf(detail, sizeof(detail), "must be a valid %.100s value (%s)", sqltype, msg);
		problem_add_member(p, "filters", name, detail);
		st = EX_OK;
		goto out;
	}
	if (st) {
		goto out;
	}
	*ok = 1;
out:
	PQclear(res);
	buf_free(&sql);
	return st;
}

static void filters_not_filterable(const struct registry_type *t, const struct filters_meta *m,
				   const char *name, struct problem *p)
{
	char detail[1200], clipped[256], list[800] = "";
	size_t i, n = json_object_is_type(m->filterable, json_type_array)
			      ? json_object_array_length(m->filterable)
			      : 0;
	size_t o = 0;

	for (i = 0; i < n && o < sizeof(list); i++) {
		o += (size_t)snprintf(
			list + o, sizeof(list) - o, "%s%s", i > 0 ? ", " : "",
			json_object_get_string(json_object_array_get_idx(m->filterable, i)));
	}
	problem_clip(name, clipped, sizeof(clipped));
	if (registry_column_index(t, name) < 0) {
		snprintf(detail, sizeof(detail), "unknown column \"%s\" for type %s", clipped,
			 t->name);
	} else {
		snprintf(detail, sizeof(detail),
			 "column \"%s\" cannot be filtered on (filterable: %s)", clipped,
			 n > 0 ? list : "none");
	}
	problem_add_member(p, "filters", name, detail);
}

/* The value's type as PostgreSQL sees it: a field error, or *ok when the
 * column takes it. */
static enum ex_status filters_value(PGconn *conn, const struct filters_meta *m, const char *name,
				    enum filterspec_kind kind, const char *text, struct problem *p,
				    int *ok, struct buf *err)
{
	struct json_object *type = NULL;

	*ok = kind == FILTERSPEC_NULL;
	if (*ok) {
		return EX_OK;
	}
	if (!json_object_object_get_ex(m->types, name, &type)) {
		problem_add_member(p, "filters", name,
				   "the column is missing from the type's source relation");
		return EX_OK;
	}
	return filters_cast(conn, name, json_object_get_string(type), text, p, ok, err);
}

/* The value's kind and text, or a field error and 0. */
static int filters_kind(const char *name, struct json_object *v, struct problem *p,
			enum filterspec_kind *kind, const char **text)
{
	int number =
		json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
	enum filterspec_number exact = number ? filterspec_number(v) : FILTERSPEC_NUMBER_EXACT;

	if (exact == FILTERSPEC_NUMBER_NOT_FINITE) {
		problem_add_member(p, "filters", name,
				   "must be a finite number (JSON has no NaN or Infinity)");
		return 0;
	}
	if (exact == FILTERSPEC_NUMBER_CUT) {
		problem_add_member(p, "filters", name,
				   "must be a valid number: an integer past 64 bits cannot be kept "
				   "exactly as a JSON number; send it as a string");
		return 0;
	}
	if (filterspec_value(v, kind, text)) {
		problem_add_member(p, "filters", name,
				   "must be a string, number, boolean or null "
				   "(null matches NULL)");
		return 0;
	}
	return 1;
}

/* One equality member: column check, then the value. */
static enum ex_status filters_equal(PGconn *conn, const struct registry_type *t,
				    const struct filters_meta *m, const char *name,
				    struct json_object *v, struct problem *p, struct filterspec *fs,
				    struct buf *err)
{
	enum filterspec_kind kind;
	const char *text;
	enum ex_status st;
	int ok = 0;

	if (!filters_is_filterable(m, name)) {
		filters_not_filterable(t, m, name, p);
		return EX_OK;
	}
	if (!filters_kind(name, v, p, &kind, &text)) {
		return EX_OK;
	}
	st = filters_value(conn, m, name, kind, text, p, &ok, err);
	if (st || !ok) {
		return st;
	}
	st = filterspec_add_equal(fs, name, kind, text);
	if (st == EX_ETOOBIG) {
		problem_add_member(p, "filters", name, "too many equality filters");
		return EX_OK;
	}
	return st;
}

static int filters_is_bound(const char *key)
{
	return strcmp(key, "created_from") == 0 || strcmp(key, "created_to") == 0;
}

/* A time bound: field errors, or its normalised text into fs. */
static enum ex_status filters_time(PGconn *conn, const struct registry_type *t,
				   const struct filters_meta *m, const char *key,
				   struct json_object *v, struct problem *p,
				   struct filters_bound *b, struct filterspec *fs, struct buf *err)
{
	char detail[300];
	enum ex_status st;

	if (m->created_at == NULL) {
		snprintf(detail, sizeof(detail),
			 "type %s has no created-at column, so it cannot be filtered by "
			 "creation time",
			 t->name);
		problem_add_member(p, "filters", key, detail);
		return EX_OK;
	}
	st = filters_bound(conn, key, v, p, b, err);
	if (st || !b->ok) {
		return st;
	}
	return filterspec_set_bound(fs, key, b->text);
}

static enum ex_status filters_members(PGconn *conn, const struct registry_type *t,
				      const struct filters_meta *m, struct json_object *filters,
				      struct problem *p, struct filters_bound b[2],
				      struct filterspec *fs, struct buf *err)
{
	enum ex_status st;

	json_object_object_foreach(filters, key, val)
	{
		if (filters_is_bound(key)) {
			st = filters_time(conn, t, m, key, val, p,
					  &b[strcmp(key, "created_to") == 0], fs, err);
		} else {
			st = filters_equal(conn, t, m, key, val, p, fs, err);
		}
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

static size_t filters_faults(const struct problem *p)
{
	return p->errors != NULL ? json_object_array_length(p->errors) : 0;
}

/* The stored form of fs as a new string in *out. */
static enum ex_status filters_stored(const struct filterspec *fs, char **out)
{
	struct buf text;
	enum ex_status st;

	buf_init(&text, FILTERS_STORED_CAP);
	st = filterspec_stored(fs, &text);
	if (st) {
		goto out;
	}
	*out = strdup(buf_str(&text));
	if (*out == NULL) {
		st = EX_ENOMEM;
	}
out:
	buf_free(&text);
	return st;
}

enum ex_status filters_check(PGconn *conn, const struct registry_type *t,
			     struct json_object *filters, struct problem *p, char **out,
			     struct buf *err)
{
	struct filters_bound b[2];
	struct filters_meta m;
	struct filterspec fs;
	size_t before = filters_faults(p);
	enum ex_status st;

	*out = NULL;
	if (!json_object_is_type(filters, json_type_object)) {
		problem_add_field(p, "filters",
				  "must be an object: {\"created_from\": ..., \"created_to\": ..., "
				  "\"<column>\": value}");
		return EX_OK;
	}
	memset(b, 0, sizeof(b));
	filterspec_init(&fs);
	st = filters_meta_load(conn, t->name, &m, err);
	if (st) {
		goto out;
	}
	st = filters_members(conn, t, &m, filters, p, b, &fs, err);
	if (st) {
		goto out;
	}
	if (b[0].ok && b[1].ok && !(b[0].epoch < b[1].epoch)) {
		problem_add_member(p, "filters", "created_to", "must be later than created_from");
	}
	if (filters_faults(p) == before) {
		st = filters_stored(&fs, out);
	}
out:
	filterspec_free(&fs);
	filters_meta_free(&m);
	return st;
}

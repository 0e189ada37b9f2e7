/* filterspec.c - an export job's filters: stored form, request shape, SQL. */
#include "jobs/filterspec.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const filterspec_bounds[] = {"created_from", "created_to"};

void filterspec_init(struct filterspec *fs)
{
	memset(fs, 0, sizeof(*fs));
}

void filterspec_free(struct filterspec *fs)
{
	int i;

	for (i = 0; i < fs->nequals; i++) {
		free(fs->equals[i].column);
		free(fs->equals[i].text);
	}
	free(fs->created_from);
	free(fs->created_to);
	filterspec_init(fs);
}

/* The bound called name, or NULL for another name. */
static char **filterspec_bound(struct filterspec *fs, const char *name)
{
	if (strcmp(name, filterspec_bounds[0]) == 0) {
		return &fs->created_from;
	}
	if (strcmp(name, filterspec_bounds[1]) == 0) {
		return &fs->created_to;
	}
	return NULL;
}

enum ex_status filterspec_set_bound(struct filterspec *fs, const char *name, const char *ts)
{
	char **bound = filterspec_bound(fs, name);
	char *copy;

	if (bound == NULL) {
		return EX_EINVAL;
	}
	copy = strdup(ts);
	if (copy == NULL) {
		return EX_ENOMEM;
	}
	free(*bound);
	*bound = copy;
	return EX_OK;
}

/* Is s a number as RFC 8259 spells it (no NaN, no Infinity, no "+")? */
static int filterspec_json_number(const char *s)
{
	const unsigned char *p = (const unsigned char *)s + (*s == '-');

	if (!isdigit(*p)) {
		return 0;
	}
	p += *p == '0' ? 1 : strspn((const char *)p, "0123456789");
	if (*p == '.') {
		p++;
		if (!isdigit(*p)) {
			return 0;
		}
		p += strspn((const char *)p, "0123456789");
	}
	if (*p == 'e' || *p == 'E') {
		p += p[1] == '+' || p[1] == '-' ? 2 : 1;
		if (!isdigit(*p)) {
			return 0;
		}
		p += strspn((const char *)p, "0123456789");
	}
	return *p == '\0';
}

enum filterspec_number filterspec_number(struct json_object *v)
{
	const char *text = json_object_get_string(v);

	if (!filterspec_json_number(text)) {
		return FILTERSPEC_NUMBER_NOT_FINITE;
	}
	/* json-c keeps a double's text but not an integer's: one past 64 bits
	 * comes out as the bound it was cut to. */
	if (json_object_is_type(v, json_type_int) && (strcmp(text, "-9223372036854775808") == 0 ||
						      strcmp(text, "18446744073709551615") == 0)) {
		return FILTERSPEC_NUMBER_CUT;
	}
	return FILTERSPEC_NUMBER_EXACT;
}

enum ex_status filterspec_value(struct json_object *v, enum filterspec_kind *kind,
				const char **text)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		*kind = FILTERSPEC_NULL;
		*text = NULL;
		return EX_OK;
	case json_type_string:
		/* A NUL would end the value PostgreSQL sees short of the JSON's. */
		*kind = FILTERSPEC_STRING;
		*text = json_object_get_string(v);
		return strlen(*text) == (size_t)json_object_get_string_len(v) ? EX_OK : EX_EINVAL;
	case json_type_boolean:
		*kind = FILTERSPEC_BOOLEAN;
		*text = json_object_get_boolean(v) ? "true" : "false";
		return EX_OK;
	case json_type_int:
	case json_type_double:
		/* As sent: json-c keeps a parsed double's own text, and an
		 * integer's when it is not cut. */
		*kind = FILTERSPEC_NUMBER;
		*text = json_object_get_string(v);
		return filterspec_number(v) == FILTERSPEC_NUMBER_EXACT ? EX_OK : EX_EINVAL;
	default:
		return EX_EINVAL;
	}
}

/* The decimal exponent in s ("" when none), bounded: past the bound the
 * answer is the same. */
static long filterspec_exponent(const char *s)
{
	const char *e = strpbrk(s, "eE");
	long x = e != NULL ? strtol(e + 1, NULL, 10) : 0;

	return x > 1000000 ? 1000000 : x < -1000000 ? -1000000 : x;
}

/* Would jsonb give the number s (a JSON number) back as an integer of 19
 * digits or more?  It prints max(0, fraction digits - exponent) decimals
 * and never an exponent; json-c keeps the text of what has decimals. */
static int filterspec_long_integer(const char *s)
{
	const char *p = s + (*s == '-');
	long exp = filterspec_exponent(s), ints = 0, fracs = 0, zeros = 0;
	int seen = 0; /* a non-zero digit */

	for (; isdigit((unsigned char)*p); p++) {
		seen |= *p != '0';
		ints += seen;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			zeros += !seen && *p == '0';
			seen |= *p != '0';
			fracs++;
		}
	}
	if (!seen || fracs - exp > 0) {
		return 0; /* zero, or decimals kept */
	}
	return (ints > 0 ? ints + exp : exp - zeros) >= 19;
}

/* Is text a value of kind?  A number must be a JSON number; one stored
 * bare must read back from json-c with the same text. */
static int filterspec_fits(enum filterspec_kind kind, const char *text)
{
	struct json_object *n;
	int ok;

	switch (kind) {
	case FILTERSPEC_NULL:
		return text == NULL;
	case FILTERSPEC_STRING:
		return text != NULL;
	case FILTERSPEC_BOOLEAN:
		return text != NULL && (strcmp(text, "true") == 0 || strcmp(text, "false") == 0);
	case FILTERSPEC_NUMBER:
		if (text == NULL || !filterspec_json_number(text)) {
			return 0;
		}
		if (filterspec_long_integer(text)) {
			return 1; /* stored as text */
		}
		n = json_tokener_parse(text);
		ok = (json_object_is_type(n, json_type_int) ||
		      json_object_is_type(n, json_type_double)) &&
		     strcmp(json_object_get_string(n), text) == 0;
		json_object_put(n);
		return ok;
	default:
		return 0;
	}
}

static int filterspec_has(const struct filterspec *fs, const char *column)
{
	int i;

	for (i = 0; i < fs->nequals; i++) {
		if (strcmp(fs->equals[i].column, column) == 0) {
			return 1;
		}
	}
	return 0;
}

enum ex_status filterspec_add_equal(struct filterspec *fs, const char *column,
				    enum filterspec_kind kind, const char *text)
{
	struct filterspec_equal *e;

	if (!filterspec_fits(kind, text) || filterspec_has(fs, column)) {
		return EX_EINVAL;
	}
	if (fs->nequals >= FILTERSPEC_MAX_EQUALS) {
		return EX_ETOOBIG;
	}
	e = &fs->equals[fs->nequals];
	e->kind = kind;
	e->column = strdup(column);
	e->text = text != NULL ? strdup(text) : NULL;
	if (e->column == NULL || (text != NULL && e->text == NULL)) {
		free(e->column);
		free(e->text);
		memset(e, 0, sizeof(*e));
		return EX_ENOMEM;
	}
	fs->nequals++;
	return EX_OK;
}

/* A stored bound: a string, or null for none. */
static enum ex_status filterspec_parse_bound(struct filterspec *fs, const char *name,
					     struct json_object *v, struct buf *err)
{
	if (v == NULL) {
		return EX_OK;
	}
	if (!json_object_is_type(v, json_type_string)) {
		buf_msg(err, "filter %s is not a date-time string", name);
		return EX_EINVAL;
	}
	return filterspec_set_bound(fs, name, json_object_get_string(v));
}

/* A stored number kept as text: {"number": "<JSON number>"}. */
static enum ex_status filterspec_parse_text_number(struct json_object *v, const char **text)
{
	struct json_object *t = NULL;

	if (json_object_object_length(v) != 1 || !json_object_object_get_ex(v, "number", &t) ||
	    !json_object_is_type(t, json_type_string)) {
		return EX_EINVAL;
	}
	*text = json_object_get_string(t);
	return EX_OK;
}

/* One stored equality value into fs. */
static enum ex_status filterspec_parse_equal(struct filterspec *fs, const char *col,
					     struct json_object *val, struct buf *err)
{
	enum filterspec_kind kind = FILTERSPEC_NUMBER;
	const char *text = NULL;
	enum ex_status st;

	if (json_object_is_type(val, json_type_object)) {
		st = filterspec_parse_text_number(val, &text);
	} else {
		st = filterspec_value(val, &kind, &text);
	}
	if (st && kind == FILTERSPEC_NUMBER && text != NULL) {
		buf_msg(err, "filter on \"%s\": the number %s cannot be read exactly", col, text);
		return st;
	}
	if (st) {
		buf_msg(err, "filter on \"%s\": a list or object is not a value", col);
		return st;
	}
	st = filterspec_add_equal(fs, col, kind, text);
	if (st) {
		buf_msg(err, "filter on \"%s\": %s", col,
			st == EX_ETOOBIG ? "too many equality filters" : status_strerror(st));
	}
	return st;
}

static enum ex_status filterspec_parse_equals(struct filterspec *fs, struct json_object *equals,
					      struct buf *err)
{
	enum ex_status st;

	if (equals == NULL) {
		return EX_OK;
	}
	if (!json_object_is_type(equals, json_type_object)) {
		buf_msg(err, "%s", "filter equals is not an object");
		return EX_EINVAL;
	}
	json_object_object_foreach(equals, col, val)
	{
		st = filterspec_parse_equal(fs, col, val, err);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

static enum ex_status filterspec_parse_object(struct json_object *o, struct filterspec *fs,
					      struct buf *err)
{
	enum ex_status st;

	json_object_object_foreach(o, key, val)
	{
		if (strcmp(key, "equals") == 0) {
			st = filterspec_parse_equals(fs, val, err);
		} else if (filterspec_bound(fs, key) != NULL) {
			st = filterspec_parse_bound(fs, key, val, err);
		} else {
			buf_msg(err, "unknown member \"%s\" in the stored filters", key);
			st = EX_EINVAL;
		}
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

enum ex_status filterspec_parse(const char *text, struct filterspec *fs, struct buf *err)
{
	struct json_object *o;
	enum ex_status st;

	if (text == NULL) {
		return EX_OK;
	}
	o = json_tokener_parse(text);
	if (!json_object_is_type(o, json_type_object)) {
		buf_msg(err, "%s", "the stored filters are not a JSON object");
		st = EX_EINVAL;
		goto out;
	}
	st = filterspec_parse_object(o, fs, err);
out:
	json_object_put(o);
	return st;
}

/* A number as its own text (json-c writes a double made with its text as
 * that text); stored (!flat), one jsonb would turn into a long integer is
 * {"number": text}. */
static struct json_object *filterspec_json_number_of(const char *text, int flat)
{
	struct json_object *o;

	if (flat || !filterspec_long_integer(text)) {
		return json_object_new_double_s(0.0, text);
	}
	o = json_object_new_object();
	if (o != NULL && json_object_object_add(o, "number", json_object_new_string(text)) != 0) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* A JSON object for one equality value (NULL for null, or out of memory). */
static struct json_object *filterspec_json(const struct filterspec_equal *e, int flat)
{
	switch (e->kind) {
	case FILTERSPEC_STRING:
		return json_object_new_string(e->text);
	case FILTERSPEC_BOOLEAN:
		return json_object_new_boolean(strcmp(e->text, "true") == 0);
	case FILTERSPEC_NUMBER:
		return filterspec_json_number_of(e->text, flat);
	default:
		return NULL;
	}
}

/* o[key] = v, taking v; v NULL is JSON null unless is_null is false, when it
 * means that v could not be made. */
static enum ex_status filterspec_put(struct json_object *o, const char *key, struct json_object *v,
				     int is_null)
{
	if (v == NULL && !is_null) {
		return EX_ENOMEM;
	}
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return EX_ENOMEM;
	}
	return EX_OK;
}

static enum ex_status filterspec_put_bounds(const struct filterspec *fs, struct json_object *o)
{
	const char *bounds[2] = {fs->created_from, fs->created_to};
	enum ex_status st;
	int i;

	for (i = 0; i < 2; i++) {
		if (bounds[i] == NULL) {
			continue;
		}
		st = filterspec_put(o, filterspec_bounds[i], json_object_new_string(bounds[i]), 0);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

static enum ex_status filterspec_put_equals(const struct filterspec *fs, int flat,
					    struct json_object *o)
{
	const struct filterspec_equal *e;
	enum ex_status st;
	int i;

	for (i = 0; i < fs->nequals; i++) {
		e = &fs->equals[i];
		st = filterspec_put(o, e->column, filterspec_json(e, flat),
				    e->kind == FILTERSPEC_NULL);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

/* The stored form (flat: 0) or the request shape (flat: 1) as a new object
 * in *out. */
static enum ex_status filterspec_object(const struct filterspec *fs, int flat,
					struct json_object **out)
{
	struct json_object *o = json_object_new_object(), *equals = NULL;
	enum ex_status st;

	*out = NULL;
	if (o == NULL) {
		return EX_ENOMEM;
	}
	st = filterspec_put_bounds(fs, o);
	if (st || fs->nequals == 0) {
		goto out;
	}
	if (flat) {
		st = filterspec_put_equals(fs, 1, o);
		goto out;
	}
	equals = json_object_new_object();
	st = filterspec_put(o, "equals", equals, 0);
	if (st) {
		goto out;
	}
	st = filterspec_put_equals(fs, 0, equals);
out:
	if (st) {
		json_object_put(o);
		o = NULL;
	}
	*out = o;
	return st;
}

enum ex_status filterspec_stored(const struct filterspec *fs, struct buf *out)
{
	struct json_object *o = NULL;
	const char *text;
	enum ex_status st;

	st = filterspec_object(fs, 0, &o);
	if (st) {
		return st;
	}
	/* What http/filters.c stored before this module existed: json-c's
	 * plain output, "/" escaped as "\/". */
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	st = text != NULL ? buf_puts(out, text) : EX_ENOMEM;
	json_object_put(o);
	return st;
}

struct json_object *filterspec_request(const struct filterspec *fs)
{
	struct json_object *o = NULL;

	return filterspec_object(fs, 1, &o) == EX_OK ? o : NULL;
}

/* A new parameter holding value, referenced as "$n<cast>". */
static enum ex_status filterspec_param(const struct filterspec_sql *out, const char *value,
				       const char *cast)
{
	if (*out->nparams >= out->maxparams) {
		return EX_ETOOBIG;
	}
	out->values[(*out->nparams)++] = value;
	return buf_printf(out->sql, "$%d%s", *out->nparams, cast);
}

/* " AND <col>" followed by op and, unless value is NULL, the parameter. */
static enum ex_status filterspec_cond(const struct filterspec_sql *out, const char *col,
				      const char *op, const char *value, const char *cast)
{
	enum ex_status st;

	st = buf_puts(out->sql, " AND ");
	if (st) {
		return st;
	}
	st = out->column(out->column_ctx, col, out->sql);
	if (st) {
		return st;
	}
	st = buf_puts(out->sql, op);
	if (st || value == NULL) {
		return st;
	}
	return filterspec_param(out, value, cast);
}

static enum ex_status filterspec_sql_bounds(const struct filterspec *fs,
					    const struct registry_type *t,
					    const struct filterspec_sql *out, struct buf *err)
{
	const char *bounds[2] = {fs->created_from, fs->created_to};
	static const char *const ops[2] = {" >= ", " < "};
	enum ex_status st;
	int i;

	for (i = 0; i < 2; i++) {
		if (bounds[i] == NULL) {
			continue;
		}
		if (t->created_at_column == NULL) {
			buf_msg(err, "filter %s cannot be applied to type %s", filterspec_bounds[i],
				t->name);
			return EX_EPERM;
		}
		st = filterspec_cond(out, t->created_at_column, ops[i], bounds[i], "::timestamptz");
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

enum ex_status filterspec_sql(const struct filterspec *fs, const struct registry_type *t,
			      const struct filterspec_sql *out, struct buf *err)
{
	const struct filterspec_equal *e;
	enum ex_status st;
	int i;

	st = filterspec_sql_bounds(fs, t, out, err);
	if (st) {
		return st;
	}
	for (i = 0; i < fs->nequals; i++) {
		e = &fs->equals[i];
		/* A type's filterable columns may have changed since the job
		 * was created. */
		if (!registry_filterable(t, e->column)) {
			buf_msg(err, "column \"%s\" can no longer be filtered on for type %s",
				e->column, t->name);
			return EX_EPERM;
		}
		/* Strings as they are; numbers and booleans as JSON spells them. */
		st = e->kind == FILTERSPEC_NULL
			     ? filterspec_cond(out, e->column, " IS NULL", NULL, "")
			     : filterspec_cond(out, e->column, " = ", e->text, "");
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

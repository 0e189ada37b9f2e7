/* jsonl.c - JSON Lines: one compact object per row, keys in column order.
 *
 * The output matches PostgreSQL's row_to_json() for the same row: strings
 * escaped as escape_json() does, numbers bare unless they are not valid JSON
 * numbers (NaN, Infinity, -Infinity), json/jsonb embedded as-is, timestamps
 * in to_json()'s form.
 */
#include "format/format.h"

#include <string.h>

/* What escape_json() escapes: '"', '\\' and the control characters. */
static int jsonl_special(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

static enum ex_status jsonl_escape_byte(unsigned char c, struct buf *out)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};

	switch (c) {
	case '\b':
		e[1] = 'b';
		break;
	case '\f':
		e[1] = 'f';
		break;
	case '\n':
		e[1] = 'n';
		break;
	case '\r':
		e[1] = 'r';
		break;
	case '\t':
		e[1] = 't';
		break;
	case '"':
	case '\\':
		e[1] = (char)c;
		break;
	default:
		return buf_append(out, e, 6);
	}
	return buf_append(out, e, 2);
}

/* The body of a JSON string, without the quotes: plain runs go out whole. */
static enum ex_status jsonl_string_body(const char *s, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	enum ex_status st = EX_OK;
	size_t i, run = 0;

	for (i = 0; i < len; i++) {
		if (!jsonl_special(p[i])) {
			continue;
		}
		st = buf_append(out, s + run, i - run);
		if (st) {
			goto out;
		}
		st = jsonl_escape_byte(p[i], out);
		if (st) {
			goto out;
		}
		run = i + 1;
	}
	st = buf_append(out, s + run, len - run);
out:
	return st;
}

static int jsonl_needs_escape(const char *s, size_t len);

/* "..." escaped; a value with nothing to escape is copied in one go. */
static enum ex_status jsonl_string(const char *s, size_t len, struct buf *out)
{
	enum ex_status st;
	char *p;

	if (!jsonl_needs_escape(s, len)) {
		st = buf_reserve(out, len + 2);
		if (st) {
			return st;
		}
		p = buf_tail(out);
		*p++ = '"';
		memcpy(p, s, len);
		p[len] = '"';
		return buf_extend(out, len + 2);
	}
	st = buf_putc(out, '"');
	if (st) {
		return st;
	}
	st = jsonl_string_body(s, len, out);
	if (st) {
		return st;
	}
	return buf_putc(out, '"');
}

static int jsonl_needs_escape(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < len; i++) {
		if (jsonl_special(p[i])) {
			return 1;
		}
	}
	return 0;
}

static size_t jsonl_skip_digits(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		i++;
	}
	return i;
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int jsonl_is_number(const char *s, size_t len)
{
	size_t i = 0, j;

	if (i < len && s[i] == '-') {
		i++;
	}
	j = jsonl_skip_digits(s, len, i);
	if (j == i || (s[i] == '0' && j > i + 1)) {
		return 0;
	}
	i = j;
	if (i < len && s[i] == '.') {
		j = jsonl_skip_digits(s, len, i + 1);
		if (j == i + 1) {
			return 0;
		}
		i = j;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-')) {
			i++;
		}
		j = jsonl_skip_digits(s, len, i);
		if (j == i) {
			return 0;
		}
		i = j;
	}
	return i == len;
}

/* Rewritten timestamps contain nothing to escape; a value with something to
 * escape is no timestamp, so it goes out unchanged. */
static enum ex_status jsonl_timestamp(const struct format_column *col, const char *s, size_t len,
				      struct buf *out)
{
	enum ex_status st;

	if (jsonl_needs_escape(s, len)) {
		return jsonl_string(s, len, out);
	}
	st = buf_putc(out, '"');
	if (st) {
		return st;
	}
	st = format_column_timestamp(col, s, len, out);
	if (st) {
		return st;
	}
	return buf_putc(out, '"');
}

static enum ex_status jsonl_bool(const char *s, size_t len, struct buf *out)
{
	if (len == 1 && s[0] == 't') {
		return buf_append(out, "true", 4);
	}
	if (len == 1 && s[0] == 'f') {
		return buf_append(out, "false", 5);
	}
	return jsonl_string(s, len, out);
}

static enum ex_status jsonl_value(const struct format_column *col, const struct format_field *f,
				  struct buf *out)
{
	if (f->is_null) {
		return buf_append(out, "null", 4);
	}
	switch (col->type) {
	case FORMAT_TEXT:
		break;
	case FORMAT_NUMBER:
		if (jsonl_is_number(f->value, f->len)) {
			return buf_append(out, f->value, f->len);
		}
		break;
	case FORMAT_BOOL:
		return jsonl_bool(f->value, f->len, out);
	case FORMAT_JSON:
		return buf_append(out, f->value, f->len);
	case FORMAT_TIMESTAMP:
		return jsonl_timestamp(col, f->value, f->len, out);
	}
	return jsonl_string(f->value, f->len, out);
}

/* ',' (except before the first member), "name", ':'.  Column names rarely
 * need escaping: then the whole key goes out in one copy (this runs for
 * every column of every row). */
static enum ex_status jsonl_key(const char *name, size_t i, struct buf *out)
{
	size_t len = strlen(name);
	enum ex_status st;
	char *p;

	if (jsonl_needs_escape(name, len)) {
		if (i > 0) {
			st = buf_putc(out, ',');
			if (st) {
				return st;
			}
		}
		st = jsonl_string(name, len, out);
		if (st) {
			return st;
		}
		return buf_putc(out, ':');
	}
	st = buf_reserve(out, len + 4);
	if (st) {
		return st;
	}
	p = buf_tail(out);
	if (i > 0) {
		*p++ = ',';
	}
	*p++ = '"';
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): buf bytes, length-counted */
	memcpy(p, name, len);
	p += len;
	*p++ = '"';
	*p++ = ':';
	return buf_extend(out, (size_t)(p - buf_tail(out)));
}

enum ex_status jsonl_row(const struct format_writer *w, const struct format_field *fields,
			 struct buf *out)
{
	enum ex_status st;
	size_t i;

	st = buf_putc(out, '{');
	if (st) {
		goto out;
	}
	for (i = 0; i < w->ncolumns; i++) {
		st = jsonl_key(w->columns[i].name, i, out);
		if (st) {
			goto out;
		}
		st = jsonl_value(&w->columns[i], &fields[i], out);
		if (st) {
			goto out;
		}
	}
	st = buf_append(out, "}\n", 2);
out:
	return st;
}

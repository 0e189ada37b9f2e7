/* csv.c - CSV exactly as PostgreSQL 15's COPY ... TO (FORMAT csv, HEADER,
 * DELIMITER d).
 *
 * The rule is CopyAttributeOutCSV()'s with quote and escape '"' and NULL as
 * an empty unquoted field: a value is quoted iff it contains the delimiter
 * (',', ';', TAB or '|'), '"', '\r' or '\n', is empty (it would read as NULL), or is
 * "\." in a single-column file (it would read as the end-of-data marker).
 * Inside quotes only '"' is doubled.  Header names follow the same rule.
 * UTF-8 needs no care: no byte of a multibyte sequence is ASCII.
 */
#include "format/format.h"

#include <string.h>

/* Bytes that force quoting, besides the delimiter. */
static const unsigned char csv_special[256] = {
	['"'] = 1,
	['\r'] = 1,
	['\n'] = 1,
};

static int csv_needs_quote(const struct format_writer *w, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (len == 0) {
		return 1;
	}
	if (w->ncolumns == 1 && len == 2 && s[0] == '\\' && s[1] == '.') {
		return 1;
	}
	for (i = 0; i < len; i++) {
		if (csv_special[p[i]] || p[i] == (unsigned char)w->delimiter) {
			return 1;
		}
	}
	return 0;
}

/* "<prefix>..." with each '"' doubled: runs up to and including a quote,
 * then one more.  prefix holds no quote. */
static enum ex_status csv_quoted(const char *prefix, const char *s, size_t len, struct buf *out)
{
	const char *end = s + len;
	const char *q;
	enum ex_status st;

	st = buf_putc(out, '"');
	if (st) {
		return st;
	}
	st = buf_puts(out, prefix);
	if (st) {
		return st;
	}
	while (s < end) {
		q = memchr(s, '"', (size_t)(end - s));
		if (q == NULL) {
			st = buf_append(out, s, (size_t)(end - s));
			if (st) {
				return st;
			}
			break;
		}
		st = buf_append(out, s, (size_t)(q - s) + 1);
		if (st) {
			return st;
		}
		st = buf_putc(out, '"');
		if (st) {
			return st;
		}
		s = q + 1;
	}
	return buf_putc(out, '"');
}

static enum ex_status csv_field(const struct format_writer *w, const char *s, size_t len,
				struct buf *out)
{
	if (csv_needs_quote(w, s, len)) {
		return csv_quoted("", s, len, out);
	}
	return buf_append(out, s, len);
}

/* OWASP's CSV-injection guard: a text cell a spreadsheet would read as a
 * formula (= + - @, or TAB / CR in front) gets a leading apostrophe. */
static int csv_formula_like(const char *s, size_t len)
{
	return len > 0 && strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
}

static enum ex_status csv_guarded(const struct format_writer *w, const char *s, size_t len,
				  struct buf *out)
{
	enum ex_status st;

	if (csv_needs_quote(w, s, len)) {
		return csv_quoted("'", s, len, out);
	}
	st = buf_putc(out, '\'');
	if (st) {
		return st;
	}
	return buf_append(out, s, len);
}

/* A timestamp that needs no quoting is rewritten; one that does is no
 * timestamp (the rewrite's output never contains a special byte), so it
 * goes out unchanged. */
static enum ex_status csv_value(const struct format_writer *w, const struct format_column *col,
				const struct format_field *f, struct buf *out)
{
	if (f->is_null) {
		return EX_OK;
	}
	if (col->type == FORMAT_TIMESTAMP && !csv_needs_quote(w, f->value, f->len)) {
		return format_column_timestamp(col, f->value, f->len, out);
	}
	/* Text only: numbers such as -5 are data, not formulas. */
	if (w->formula_guard && col->type == FORMAT_TEXT && csv_formula_like(f->value, f->len)) {
		return csv_guarded(w, f->value, f->len, out);
	}
	return csv_field(w, f->value, f->len, out);
}

static enum ex_status csv_eol(const struct format_writer *w, struct buf *out)
{
	return w->crlf ? buf_append(out, "\r\n", 2) : buf_putc(out, '\n');
}

enum ex_status csv_header(const struct format_writer *w, struct buf *out)
{
	const char *name;
	enum ex_status st = EX_OK;
	size_t i;

	for (i = 0; i < w->ncolumns; i++) {
		if (i > 0) {
			st = buf_putc(out, w->delimiter);
			if (st) {
				goto out;
			}
		}
		name = w->columns[i].name;
		st = csv_field(w, name, strlen(name), out);
		if (st) {
			goto out;
		}
	}
	st = csv_eol(w, out);
out:
	return st;
}

enum ex_status csv_row(const struct format_writer *w, const struct format_field *fields,
		       struct buf *out)
{
	enum ex_status st = EX_OK;
	size_t i;

	for (i = 0; i < w->ncolumns; i++) {
		if (i > 0) {
			st = buf_putc(out, w->delimiter);
			if (st) {
				goto out;
			}
		}
		st = csv_value(w, &w->columns[i], &fields[i], out);
		if (st) {
			goto out;
		}
	}
	st = csv_eol(w, out);
out:
	return st;
}

/* xlsx.c - typed cells, sheets of Excel's size, the workbook's file. */
#include "format/xlsx.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

/* Room for a cell's escaped text: 4 bytes per UTF-16 unit at most, and an
 * escape ("_x005F_") adds 6 bytes per 7 of text. */
#define XLSX_SCRATCH_CAP (8u * XLSX_CELL_MAX + 64)
/* Room in the buffer for " (n)" after the sheet's name */
#define XLSX_SUFFIX_MAX 16
/* Characters of the name kept: " (999)" fits in Excel's 31 after it. */
#define XLSX_BASE_CHARS (LXW_SHEETNAME_MAX - 6)

struct xlsx {
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *bold, *date, *stamp;
	const struct format_column *cols;
	size_t ncols;
	char base[LXW_SHEETNAME_MAX * 4 + 1]; /* the first sheet's name */
	long long sheet_rows;
	int sheet_no;
	lxw_row_t row; /* the next row of the sheet */
	long long rows;
	struct buf text; /* the cell's text, escaped */
};

static enum ex_status xlsx_fail(lxw_error e, const char *what, struct buf *err)
{
	buf_msg(err, "XLSX %s: %s", what, lxw_strerror(e));
	return e == LXW_ERROR_MEMORY_MALLOC_FAILED ? EX_ENOMEM : EX_EIO;
}

size_t xlsx_text_units(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* a lead byte starts a character; 4-byte ones are surrogate pairs */
		n += (c & 0xC0) != 0x80;
		n += c >= 0xF0;
	}
	return n;
}

/* Is "_xHHHH_" at s[i]? Readers turn it into the character U+HHHH. */
static int xlsx_escape_at(const char *s, size_t len, size_t i)
{
	size_t k;

	if (len - i < 7 || s[i] != '_' || s[i + 1] != 'x' || s[i + 6] != '_') {
		return 0;
	}
	for (k = i + 2; k < i + 6; k++) {
		if (strchr("0123456789abcdefABCDEF", s[k]) == NULL) {
			return 0;
		}
	}
	return 1;
}

/* s as a C string in x->text, an "_xHHHH_" in it kept literal by writing
 * its '_' as "_x005F_" (libxlsxwriter escapes control characters itself). */
static enum ex_status xlsx_text(struct xlsx *x, const char *s, size_t len)
{
	size_t i, from = 0;
	enum ex_status st;

	buf_reset(&x->text);
	for (i = 0; i < len; i++) {
		if (!xlsx_escape_at(s, len, i)) {
			continue;
		}
		st = buf_append(&x->text, s + from, i - from);
		if (st) {
			return st;
		}
		st = buf_puts(&x->text, "_x005F_");
		if (st) {
			return st;
		}
		from = i + 1;
	}
	return buf_append(&x->text, s + from, len - from);
}

/* A cell's text, refused past Excel's limit. */
static enum ex_status xlsx_string(struct xlsx *x, size_t col, const char *s, size_t len,
				  lxw_format *f, const char *key, struct buf *err)
{
	lxw_error e;
	enum ex_status st;

	if (xlsx_text_units(s, len) > XLSX_CELL_MAX) {
		buf_msg(err,
			"row with key %s: column \"%s\" holds %zu characters, more than the "
			"%d an XLSX cell can hold",
			key, x->cols[col].name, xlsx_text_units(s, len), XLSX_CELL_MAX);
		return EX_ETOOBIG;
	}
	st = xlsx_text(x, s, len);
	if (st) {
		buf_msg(err, "%s", "no memory for an XLSX cell");
		return st;
	}
	e = worksheet_write_string(x->ws, x->row, (lxw_col_t)col, buf_str(&x->text), f);
	return e != LXW_NO_ERROR ? xlsx_fail(e, "cell", err) : EX_OK;
}

/* The sheet name: base, then " (n)" from the second sheet on. */
static void xlsx_sheet_name(const struct xlsx *x, char *out, size_t size)
{
	if (x->sheet_no == 1) {
		snprintf(out, size, "%s", x->base);
	} else {
		snprintf(out, size, "%s (%d)", x->base, x->sheet_no);
	}
}

/* The current sheet is done: its autofilter covers its rows. */
static enum ex_status xlsx_sheet_end(struct xlsx *x, struct buf *err)
{
	lxw_error e;

	if (x->ws == NULL) {
		return EX_OK;
	}
	e = worksheet_autofilter(x->ws, 0, 0, x->row - 1, (lxw_col_t)(x->ncols - 1));
	return e != LXW_NO_ERROR ? xlsx_fail(e, "autofilter", err) : EX_OK;
}

/* Widths that show a date or timestamp instead of "####". */
static void xlsx_widths(struct xlsx *x)
{
	size_t i;

	for (i = 0; i < x->ncols; i++) {
		unsigned int oid = x->cols[i].oid;

		if (oid == 1082) {
			worksheet_set_column(x->ws, (lxw_col_t)i, (lxw_col_t)i, 11, NULL);
		} else if (x->cols[i].type == FORMAT_TIMESTAMP) {
			worksheet_set_column(x->ws, (lxw_col_t)i, (lxw_col_t)i, 24, NULL);
		}
	}
}

/* A new sheet with the header row: bold, frozen. */
static enum ex_status xlsx_sheet(struct xlsx *x, struct buf *err)
{
	char name[sizeof(x->base) + XLSX_SUFFIX_MAX];
	enum ex_status st;
	size_t i;

	st = xlsx_sheet_end(x, err);
	if (st) {
		return st;
	}
	x->sheet_no++;
	xlsx_sheet_name(x, name, sizeof(name));
	x->ws = workbook_add_worksheet(x->wb, name);
	if (x->ws == NULL) {
		buf_msg(err, "XLSX: cannot add the sheet \"%s\"", name);
		return EX_EIO;
	}
	x->row = 0;
	xlsx_widths(x);
	worksheet_freeze_panes(x->ws, 1, 0);
	for (i = 0; i < x->ncols; i++) {
		const char *h = x->cols[i].name;

		st = xlsx_string(x, i, h, strlen(h), x->bold, "(header)", err);
		if (st) {
			return st;
		}
	}
	x->row = 1;
	return EX_OK;
}

/* The sheet name Excel accepts: no []:*?/\, no leading or trailing
 * apostrophe, short enough for " (n)" within Excel's 31 characters. */
static void xlsx_base_name(const char *sheet, char *out, size_t size)
{
	size_t i, n = 0, chars = 0;

	for (i = 0; sheet[i] != '\0' && n + 1 < size; i++) {
		unsigned char c = (unsigned char)sheet[i];

		if ((c & 0xC0) != 0x80 && chars++ == XLSX_BASE_CHARS) {
			break;
		}
		out[n] = sheet[i];
		if (strchr("[]:*?/\\", c) != NULL || (c == '\'' && n == 0)) {
			out[n] = '_';
		}
		n++;
	}
	while (n > 0 && out[n - 1] == '\'') {
		n--;
	}
	out[n] = '\0';
	if (n == 0) {
		snprintf(out, size, "%s", "export");
	}
}

static enum ex_status xlsx_formats(struct xlsx *x, struct buf *err)
{
	x->bold = workbook_add_format(x->wb);
	x->date = workbook_add_format(x->wb);
	x->stamp = workbook_add_format(x->wb);
	if (x->bold == NULL || x->date == NULL || x->stamp == NULL) {
		buf_msg(err, "%s", "no memory for the XLSX formats");
		return EX_ENOMEM;
	}
	format_set_bold(x->bold);
	format_set_num_format(x->date, "yyyy-mm-dd");
	/* Excel shows at most milliseconds; the cell's value keeps the rest. */
	format_set_num_format(x->stamp, "yyyy-mm-dd hh:mm:ss.000");
	return EX_OK;
}

enum ex_status xlsx_open(const struct xlsx_options *o, const struct format_column *columns,
			 size_t ncolumns, struct xlsx **out, struct buf *err)
{
	lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .use_zip64 = LXW_TRUE};
	struct xlsx *x = calloc(1, sizeof(*x));
	enum ex_status st;

	*out = NULL;
	if (x == NULL || ncolumns == 0 || o->sheet_rows < 2 || o->sheet_rows > XLSX_SHEET_ROWS) {
		free(x);
		buf_msg(err, "%s", x == NULL ? "no memory for XLSX" : "XLSX: bad options");
		return x == NULL ? EX_ENOMEM : EX_EINVAL;
	}
	x->cols = columns;
	x->ncols = ncolumns;
	x->sheet_rows = o->sheet_rows;
	buf_init(&x->text, XLSX_SCRATCH_CAP);
	xlsx_base_name(o->sheet, x->base, sizeof(x->base));
	opt.tmpdir = (char *)o->tmpdir; /* not written to by libxlsxwriter */
	x->wb = workbook_new_opt(o->path, &opt);
	if (x->wb == NULL) {
		buf_msg(err, "XLSX: cannot create %s", o->path);
		st = EX_EIO;
		goto out;
	}
	st = xlsx_formats(x, err);
	if (st) {
		goto out;
	}
	st = xlsx_sheet(x, err);
out:
	if (st) {
		xlsx_free(x);
		return st;
	}
	*out = x;
	return EX_OK;
}

int xlsx_exact_number(const char *s, size_t len, double *d)
{
	char tmp[128];
	size_t i, sig = 0, zeros = 0;
	int seen = 0;
	char *end;

	if (len == 0 || len >= sizeof(tmp)) {
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] >= '1' && s[i] <= '9') {
			sig += zeros + 1;
			zeros = 0;
			seen = 1;
		} else if (s[i] == '0') {
			zeros += seen; /* significant only when a nonzero digit follows */
		} else if (strchr("+-.eE", s[i]) == NULL) {
			return 0; /* NaN, Infinity */
		}
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	*d = strtod(tmp, &end);
	return sig <= 15 && errno == 0 && *end == '\0' && isfinite(*d);
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static long long xlsx_days(long long y, int m, int d)
{
	long long era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* n digits at s[*i] as a number; -1 when they are not there. */
static long xlsx_int(const char *s, size_t len, size_t *i, size_t n)
{
	long v = 0;

	if (len - *i < n) {
		return -1;
	}
	for (; n > 0; n--, (*i)++) {
		if (s[*i] < '0' || s[*i] > '9') {
			return -1;
		}
		v = v * 10 + (s[*i] - '0');
	}
	return v;
}

/* "THH:MM:SS[.f]" at s[*i] -> fraction of a day; -1 when malformed. */
static double xlsx_time(const char *s, size_t len, size_t *i)
{
	long h, m, sec, frac = 0, unit = 1;

	if (*i == len) {
		return 0;
	}
	if (s[(*i)++] != 'T' || (h = xlsx_int(s, len, i, 2)) < 0 || *i >= len || s[(*i)++] != ':' ||
	    (m = xlsx_int(s, len, i, 2)) < 0 || *i >= len || s[(*i)++] != ':' ||
	    (sec = xlsx_int(s, len, i, 2)) < 0) {
		return -1;
	}
	/* the fraction's digits (PostgreSQL prints at most 6) as frac / unit */
	if (*i < len && s[*i] == '.') {
		for ((*i)++; *i < len && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
			if (unit < 1000000000L) {
				frac = frac * 10 + (s[*i] - '0');
				unit *= 10;
			}
		}
	}
	return ((double)(h * 3600 + m * 60 + sec) + (double)frac / (double)unit) / 86400.0;
}

int xlsx_serial(const char *s, size_t len, double *serial)
{
	size_t i = 0;
	long y, m, d;
	double t;

	y = xlsx_int(s, len, &i, 4);
	if (y < 0 || i >= len || s[i++] != '-' || (m = xlsx_int(s, len, &i, 2)) < 1 || m > 12 ||
	    i >= len || s[i++] != '-' || (d = xlsx_int(s, len, &i, 2)) < 1 || d > 31) {
		return 0;
	}
	if (y < 1900 || (y == 1900 && m < 3) || memchr(s, ' ', len) != NULL) {
		return 0; /* before Excel's sound dates, or " BC" */
	}
	t = xlsx_time(s, len, &i);
	/* what follows is the zone ("+01:00"): the wall time is the cell's */
	if (t < 0 || (i < len && s[i] != '+' && s[i] != '-')) {
		return 0;
	}
	*serial = (double)(xlsx_days(y, (int)m, (int)d) - xlsx_days(1899, 12, 30)) + t;
	return 1;
}

/* A date or timestamp: a date cell, or its text when Excel has no date for it. */
static enum ex_status xlsx_when(struct xlsx *x, size_t col, const struct format_field *f,
				struct buf *err)
{
	const struct format_column *c = &x->cols[col];
	lxw_format *fmt = c->oid == 1082 ? x->date : x->stamp;
	double serial;
	enum ex_status st;
	lxw_error e;

	buf_reset(&x->text);
	st = c->oid == 1082 ? buf_append(&x->text, f->value, f->len)
			    : format_column_timestamp(c, f->value, f->len, &x->text);
	if (st) {
		buf_msg(err, "%s", "no memory for an XLSX cell");
		return st;
	}
	if (!xlsx_serial(buf_str(&x->text), x->text.len, &serial)) {
		/* BC, infinity, before 1900-03-01: PostgreSQL's text (no escapes
		 * to make, far below the cell limit) */
		e = worksheet_write_string(x->ws, x->row, (lxw_col_t)col, buf_str(&x->text), NULL);
		return e != LXW_NO_ERROR ? xlsx_fail(e, "cell", err) : EX_OK;
	}
	e = worksheet_write_number(x->ws, x->row, (lxw_col_t)col, serial, fmt);
	return e != LXW_NO_ERROR ? xlsx_fail(e, "cell", err) : EX_OK;
}

/* A float's text as its double; 0 for NaN and the infinities. */
static int xlsx_float(const char *s, size_t len, double *d)
{
	char tmp[64];

	if (len == 0 || len >= sizeof(tmp)) {
		return 0;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	*d = strtod(tmp, NULL);
	return isfinite(*d);
}

/* A number cell when the double is exact (floats always are: PostgreSQL
 * prints them so that they read back to the same double), else the text. */
static enum ex_status xlsx_number(struct xlsx *x, size_t col, const struct format_field *f,
				  const char *key, struct buf *err)
{
	unsigned int oid = x->cols[col].oid;
	int is_float = oid == 700 || oid == 701;
	double d;
	lxw_error e;

	if (!(is_float ? xlsx_float(f->value, f->len, &d)
		       : xlsx_exact_number(f->value, f->len, &d))) {
		return xlsx_string(x, col, f->value, f->len, NULL, key, err);
	}
	e = worksheet_write_number(x->ws, x->row, (lxw_col_t)col, d, NULL);
	return e != LXW_NO_ERROR ? xlsx_fail(e, "cell", err) : EX_OK;
}

static enum ex_status xlsx_cell(struct xlsx *x, size_t col, const struct format_field *f,
				const char *key, struct buf *err)
{
	const struct format_column *c = &x->cols[col];
	lxw_error e;

	if (f->is_null) {
		return EX_OK;
	}
	if (c->type == FORMAT_NUMBER) {
		return xlsx_number(x, col, f, key, err);
	}
	if (c->type == FORMAT_BOOL) {
		e = worksheet_write_boolean(x->ws, x->row, (lxw_col_t)col,
					    f->len > 0 && f->value[0] == 't', NULL);
		return e != LXW_NO_ERROR ? xlsx_fail(e, "cell", err) : EX_OK;
	}
	if (c->type == FORMAT_TIMESTAMP || c->oid == 1082) {
		return xlsx_when(x, col, f, err);
	}
	return xlsx_string(x, col, f->value, f->len, NULL, key, err);
}

enum ex_status xlsx_row(struct xlsx *x, const struct format_field *fields, const char *key,
			struct buf *err)
{
	enum ex_status st;
	size_t i;

	if ((long long)x->row >= x->sheet_rows) {
		st = xlsx_sheet(x, err);
		if (st) {
			return st;
		}
	}
	for (i = 0; i < x->ncols; i++) {
		st = xlsx_cell(x, i, &fields[i], key, err);
		if (st) {
			return st;
		}
	}
	x->row++;
	x->rows++;
	return EX_OK;
}

long long xlsx_rows(const struct xlsx *x)
{
	return x->rows;
}

enum ex_status xlsx_close(struct xlsx *x, struct buf *err)
{
	enum ex_status st = xlsx_sheet_end(x, err);
	lxw_error e;

	e = workbook_close(x->wb); /* writes the file and frees the workbook */
	x->wb = NULL;
	if (!st && e != LXW_NO_ERROR) {
		st = xlsx_fail(e, "file", err);
	}
	xlsx_free(x);
	return st;
}

void xlsx_free(struct xlsx *x)
{
	if (x == NULL) {
		return;
	}
	if (x->wb != NULL) {
		lxw_workbook_free(x->wb);
	}
	buf_free(&x->text);
	free(x);
}

/* format.c - format names, type mapping, dispatch and the timestamp rewrite. */
#include "format/format.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The longest timestamp PostgreSQL prints is about 45 bytes
 * ("294276-12-31 23:59:59.999999+05:53:28 BC"); anything longer is not one. */
#define FORMAT_TS_MAX 64

enum ex_status format_parse_kind(const char *name, enum format_kind *out)
{
	if (strcmp(name, "csv") == 0) {
		*out = FORMAT_CSV;
		return EX_OK;
	}
	if (strcmp(name, "jsonl") == 0) {
		*out = FORMAT_JSONL;
		return EX_OK;
	}
	if (strcmp(name, "xlsx") == 0) {
		*out = FORMAT_XLSX;
		return EX_OK;
	}
	return EX_EINVAL;
}

const char *format_extension(enum format_kind kind)
{
	switch (kind) {
	case FORMAT_CSV:
		return "csv";
	case FORMAT_JSONL:
		return "jsonl";
	case FORMAT_XLSX:
		return "xlsx";
	}
	return "unknown";
}

const char *format_content_type(enum format_kind kind)
{
	switch (kind) {
	case FORMAT_CSV:
		return "text/csv; charset=utf-8";
	case FORMAT_JSONL:
		return "application/x-ndjson";
	case FORMAT_XLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
	}
	return "application/octet-stream";
}

enum ex_status format_parse_compression(const char *name, enum format_compression *out)
{
	if (strcmp(name, "none") == 0) {
		*out = FORMAT_PLAIN;
	} else if (strcmp(name, "gzip") == 0) {
		*out = FORMAT_GZIP;
	} else if (strcmp(name, "zstd") == 0) {
		*out = FORMAT_ZSTD;
	} else {
		return EX_EINVAL;
	}
	return EX_OK;
}

const char *format_compression_suffix(enum format_compression c)
{
	switch (c) {
	case FORMAT_GZIP:
		return ".gz";
	case FORMAT_ZSTD:
		return ".zst";
	case FORMAT_PLAIN:
		break;
	}
	return "";
}

const char *format_compression_type(enum format_compression c)
{
	switch (c) {
	case FORMAT_GZIP:
		return "application/gzip";
	case FORMAT_ZSTD:
		return "application/zstd";
	case FORMAT_PLAIN:
		break;
	}
	return NULL;
}

int format_valid_delimiter(const char *s)
{
	return s[0] != '\0' && s[1] == '\0' && strchr(FORMAT_DELIMITERS, s[0]) != NULL;
}

enum format_type format_type_from_oid(unsigned int oid)
{
	switch (oid) {
	case 20:   /* int8 */
	case 21:   /* int2 */
	case 23:   /* int4 */
	case 26:   /* oid */
	case 700:  /* float4 */
	case 701:  /* float8 */
	case 1700: /* numeric */
		return FORMAT_NUMBER;
	case 16: /* bool */
		return FORMAT_BOOL;
	case 114:  /* json */
	case 3802: /* jsonb */
		return FORMAT_JSON;
	case 1114: /* timestamp */
	case 1184: /* timestamptz */
		return FORMAT_TIMESTAMP;
	default:
		return FORMAT_TEXT;
	}
}

enum ex_status format_header(const struct format_writer *w, struct buf *out)
{
	switch (w->kind) {
	case FORMAT_CSV:
		return csv_header(w, out);
	case FORMAT_JSONL:
		return EX_OK;
	case FORMAT_XLSX:
		break;
	}
	return EX_EINVAL;
}

enum ex_status format_row(const struct format_writer *w, const struct format_field *fields,
			  struct buf *out)
{
	switch (w->kind) {
	case FORMAT_CSV:
		return csv_row(w, fields, out);
	case FORMAT_JSONL:
		return jsonl_row(w, fields, out);
	case FORMAT_XLSX:
		break;
	}
	return EX_EINVAL;
}

/* Shape of a timestamp in PostgreSQL's ISO output, as positions in it. */
struct format_ts {
	size_t space;  /* the ' ' between date and time; becomes 'T' */
	size_t tz_end; /* end of the zone hours when only "+HH" is there, else 0 */
};

/* Advance *i over min..max digits; 0 when there are fewer than min. */
static int format_digits(const char *s, size_t len, size_t *i, size_t min, size_t max)
{
	size_t n = 0;

	while (*i < len && n < max && s[*i] >= '0' && s[*i] <= '9') {
		(*i)++;
		n++;
	}
	return n >= min;
}

static int format_char(const char *s, size_t len, size_t *i, char c)
{
	if (*i < len && s[*i] == c) {
		(*i)++;
		return 1;
	}
	return 0;
}

/* "YYYY-MM-DD HH:MM:SS"; the year may be longer than four digits. */
static int format_ts_datetime(const char *s, size_t len, size_t *i, struct format_ts *ts)
{
	if (!format_digits(s, len, i, 4, FORMAT_TS_MAX) || !format_char(s, len, i, '-') ||
	    !format_digits(s, len, i, 2, 2) || !format_char(s, len, i, '-') ||
	    !format_digits(s, len, i, 2, 2)) {
		return 0;
	}
	ts->space = *i;
	if (!format_char(s, len, i, ' ') || !format_digits(s, len, i, 2, 2) ||
	    !format_char(s, len, i, ':') || !format_digits(s, len, i, 2, 2) ||
	    !format_char(s, len, i, ':') || !format_digits(s, len, i, 2, 2)) {
		return 0;
	}
	if (format_char(s, len, i, '.') && !format_digits(s, len, i, 1, FORMAT_TS_MAX)) {
		return 0;
	}
	return 1;
}

/* Optional zone "+HH", "+HH:MM" or "+HH:MM:SS", then optional " BC", then the end. */
static int format_ts_zone(const char *s, size_t len, size_t *i, struct format_ts *ts)
{
	ts->tz_end = 0;
	if (format_char(s, len, i, '+') || format_char(s, len, i, '-')) {
		if (!format_digits(s, len, i, 2, 2)) {
			return 0;
		}
		ts->tz_end = *i;
		if (format_char(s, len, i, ':')) {
			ts->tz_end = 0;
			if (!format_digits(s, len, i, 2, 2)) {
				return 0;
			}
			if (format_char(s, len, i, ':') && !format_digits(s, len, i, 2, 2)) {
				return 0;
			}
		}
	}
	if (len - *i == 3 && memcmp(s + *i, " BC", 3) == 0) {
		*i += 3;
	}
	return *i == len;
}

static int format_ts_parse(const char *s, size_t len, struct format_ts *ts)
{
	size_t i = 0;

	if (len > FORMAT_TS_MAX) {
		return 0;
	}
	return format_ts_datetime(s, len, &i, ts) && format_ts_zone(s, len, &i, ts);
}

/*
 * to_json() uses the XSD style: 'T' between date and time and the zone always
 * with minutes ("+00" -> "+00:00"; "+05:30" and "+05:53:28" stay).  " BC",
 * "infinity" and "-infinity" print as in ISO style.
 */
enum ex_status format_timestamp(const char *value, size_t len, struct buf *out)
{
	char tmp[FORMAT_TS_MAX + 3];
	struct format_ts ts;
	size_t n;

	if (!format_ts_parse(value, len, &ts)) {
		return buf_append(out, value, len);
	}
	n = ts.tz_end != 0 ? ts.tz_end : len;
	memcpy(tmp, value, n);
	tmp[ts.space] = 'T';
	if (ts.tz_end != 0) {
		/* tmp is length-counted (n), not a C string. */
		/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
		memcpy(tmp + n, ":00", 3);
		memcpy(tmp + n + 3, value + n, len - n);
		n = len + 3;
	}
	return buf_append(out, tmp, n);
}

/* The value of the digits s[from..to) (format_ts_parse() checked them). */
static long long format_number(const char *s, size_t from, size_t to)
{
	long long v = 0;

	for (; from < to; from++) {
		v = v * 10 + (s[from] - '0');
	}
	return v;
}

/* A zone offset as PostgreSQL's ISO style prints it: "+HH", then ":MM"
 * unless minutes and seconds are 0, then ":SS" unless seconds are 0. */
static void format_offset(long off, char *out, size_t size)
{
	char sign = off < 0 ? '-' : '+';
	int a = (int)((off < 0 ? -off : off) % 360000); /* zones are within +-26h */

	if (a % 60 != 0) {
		snprintf(out, size, "%c%02d:%02d:%02d", sign, a / 3600, a / 60 % 60, a % 60);
	} else if (a % 3600 != 0) {
		snprintf(out, size, "%c%02d:%02d", sign, a / 3600, a / 60 % 60);
	} else {
		snprintf(out, size, "%c%02d", sign, a / 3600);
	}
}

/* UTC "Y-MM-DD HH:MM:SS" (at ts.space) -> seconds since the epoch. */
static int format_ts_epoch(const char *s, const struct format_ts *ts, int bc, time_t *t)
{
	size_t d = ts->space;
	long long year;
	struct tm tm;

	if (d - 6 > 6) {
		return 0; /* past PostgreSQL's 294276 AD */
	}
	year = format_number(s, 0, d - 6);
	memset(&tm, 0, sizeof(tm));
	/* BC years count back from 1 BC, which is year 0 */
	tm.tm_year = (int)((bc ? 1 - year : year) - 1900);
	tm.tm_mon = (int)format_number(s, d - 5, d - 3) - 1;
	tm.tm_mday = (int)format_number(s, d - 2, d);
	tm.tm_hour = (int)format_number(s, d + 1, d + 3);
	tm.tm_min = (int)format_number(s, d + 4, d + 6);
	tm.tm_sec = (int)format_number(s, d + 7, d + 9);
	*t = timegm(&tm);
	return *t != (time_t)-1 || tm.tm_year == 69;
}

/* The local time of t with the fraction s[from..to) in PostgreSQL's ISO
 * style into tmp; its length, or 0 when it does not fit. */
static size_t format_ts_local(time_t t, const char *s, size_t from, size_t to, char *tmp,
			      size_t size)
{
	char zone[48];
	struct tm lt;
	long long year;
	int n;

	if (localtime_r(&t, &lt) == NULL) {
		return 0;
	}
	year = (long long)lt.tm_year + 1900;
	format_offset(lt.tm_gmtoff, zone, sizeof(zone));
	n = snprintf(tmp, size, "%04lld-%02d-%02d %02d:%02d:%02d%.*s%s%s",
		     year > 0 ? year : 1 - year, lt.tm_mon + 1, lt.tm_mday, lt.tm_hour, lt.tm_min,
		     lt.tm_sec, (int)(to - from), s + from, zone, year > 0 ? "" : " BC");
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

enum ex_status format_timestamp_zoned(const char *value, size_t len, struct buf *out)
{
	char tmp[FORMAT_TS_MAX + 16];
	struct format_ts ts;
	size_t frac, n;
	time_t t;
	int bc;

	/* only the UTC form "...+00[ BC]" is moved */
	if (!format_ts_parse(value, len, &ts) || ts.tz_end < 3 ||
	    memcmp(value + ts.tz_end - 3, "+00", 3) != 0) {
		return format_timestamp(value, len, out);
	}
	bc = len > ts.tz_end;
	frac = ts.space + 9;
	if (!format_ts_epoch(value, &ts, bc, &t)) {
		return format_timestamp(value, len, out);
	}
	n = format_ts_local(t, value, frac, ts.tz_end - 3, tmp, sizeof(tmp));
	if (n == 0) {
		return format_timestamp(value, len, out);
	}
	return format_timestamp(tmp, n, out);
}

enum ex_status format_column_timestamp(const struct format_column *col, const char *value,
				       size_t len, struct buf *out)
{
	if (col->zoned) {
		return format_timestamp_zoned(value, len, out);
	}
	return format_timestamp(value, len, out);
}

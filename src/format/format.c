/* format.c - format names, type mapping, dispatch and the timestamp rewrite. */
#include "format/format.h"

#include <string.h>

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
	return EX_EINVAL;
}

const char *format_extension(enum format_kind kind)
{
	switch (kind) {
	case FORMAT_CSV:
		return "csv";
	case FORMAT_JSONL:
		return "jsonl";
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

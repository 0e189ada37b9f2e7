/* format.h - turn rows into CSV or JSON Lines bytes (XLSX: xlsx.h).
 *
 * Pure: no libpq, no I/O.  A writer is described once per export (formats,
 * column names and value types) and then asked for the header and for each
 * row; bytes are appended to a caller-owned struct buf.  Field values are
 * PostgreSQL's text output (DateStyle ISO, TimeZone UTC); a timestamptz
 * column marked zoned is moved into the process's local time zone (the
 * worker sets TZ to the job's zone); the writer rewrites timestamps into
 * ISO 8601 / RFC 3339 form exactly as PostgreSQL's to_json() prints them
 * ("2024-01-02T03:04:05.5+00:00").
 *
 * On EX_ETOOBIG / EX_ENOMEM the buffer may hold a partial row: callers treat
 * that as fatal for the export (the row cap is a config key).
 */
#ifndef EXPORTD_FORMAT_H
#define EXPORTD_FORMAT_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

enum format_kind {
	FORMAT_CSV,
	FORMAT_JSONL,
	FORMAT_XLSX, /* written by xlsx.h; format_header / format_row refuse it */
};

enum format_type {
	FORMAT_TEXT,	  /* JSON string */
	FORMAT_NUMBER,	  /* JSON number; NaN/Infinity become strings */
	FORMAT_BOOL,	  /* PostgreSQL "t"/"f"; JSON true/false */
	FORMAT_JSON,	  /* json/jsonb: embedded as-is in JSONL */
	FORMAT_TIMESTAMP, /* timestamp / timestamptz: ISO 8601 with 'T' */
};

/* How the file is compressed: each part is one gzip member or zstd frame. */
enum format_compression {
	FORMAT_PLAIN,
	FORMAT_GZIP,
	FORMAT_ZSTD,
};

struct format_column {
	const char *name; /* not owned; the header's text (name or label) */
	enum format_type type;
	int zoned;	  /* timestamptz shown in the local time zone (localtime_r) */
	unsigned int oid; /* pg_type.oid of the value (XLSX picks cell types by it) */
};

struct format_field {
	const char *value; /* not NUL-terminated necessarily; NULL when is_null */
	size_t len;
	int is_null;
};

struct format_writer {
	enum format_kind kind;
	int crlf;	/* CSV line ending: 1 = CRLF, 0 = LF; JSONL always LF */
	char delimiter; /* CSV: one of FORMAT_DELIMITERS */
	const struct format_column *columns; /* not owned */
	size_t ncolumns;
	int formula_guard; /* CSV: prefix ' to text cells starting = + - @ TAB CR */
};

/* "csv" / "jsonl" / "xlsx" -> kind; EX_EINVAL for anything else. */
enum ex_status format_parse_kind(const char *name, enum format_kind *out) EX_MUST_CHECK;
/* The kind's name, which is also its file extension without the dot:
 * "csv", "jsonl", "xlsx". */
const char *format_extension(enum format_kind kind);
const char *format_content_type(enum format_kind kind);

/* "none" / "gzip" / "zstd" -> compression; EX_EINVAL for anything else. */
enum ex_status format_parse_compression(const char *name,
					enum format_compression *out) EX_MUST_CHECK;
/* What the compression appends to the file name: "", ".gz", ".zst". */
const char *format_compression_suffix(enum format_compression c);
/* The Content-Type of a compressed file; NULL for FORMAT_PLAIN (the
 * format's own). */
const char *format_compression_type(enum format_compression c);

/* The CSV delimiters a job may choose: ',' (the default), ';', TAB, '|'. */
#define FORMAT_DELIMITERS ",;	|"
/* Is s one of FORMAT_DELIMITERS, as a one-byte string? */
int format_valid_delimiter(const char *s);

/* pg_type.oid of timestamptz, the one type a job's time zone applies to. */
#define FORMAT_OID_TIMESTAMPTZ 1184u

/* Map a PostgreSQL type OID (pg_type.oid of a built-in type) to a value type. */
enum format_type format_type_from_oid(unsigned int oid);

/* CSV: the header line (column names, quoted as needed); JSONL: nothing. */
enum ex_status format_header(const struct format_writer *w, struct buf *out) EX_MUST_CHECK;
/* One row; fields has w->ncolumns entries. */
enum ex_status format_row(const struct format_writer *w, const struct format_field *fields,
			  struct buf *out) EX_MUST_CHECK;

/* Internal to the format module, exposed for csv.c / jsonl.c and tests. */
enum ex_status csv_header(const struct format_writer *w, struct buf *out) EX_MUST_CHECK;
enum ex_status csv_row(const struct format_writer *w, const struct format_field *fields,
		       struct buf *out) EX_MUST_CHECK;
enum ex_status jsonl_row(const struct format_writer *w, const struct format_field *fields,
			 struct buf *out) EX_MUST_CHECK;
/* Rewrite PostgreSQL's ISO timestamp text into to_json()'s form. */
enum ex_status format_timestamp(const char *value, size_t len, struct buf *out) EX_MUST_CHECK;
/* The same for a timestamptz printed in UTC ("...+00"), first moved into
 * the process's local time zone as PostgreSQL would print it with that
 * TimeZone (offset "+01", "+05:30", LMT's "+00:09:21"; " BC" kept); text of
 * another shape (infinity) is format_timestamp()'s. */
enum ex_status format_timestamp_zoned(const char *value, size_t len, struct buf *out) EX_MUST_CHECK;
/* format_timestamp_zoned() for a zoned column, else format_timestamp(). */
enum ex_status format_column_timestamp(const struct format_column *col, const char *value,
				       size_t len, struct buf *out) EX_MUST_CHECK;

#endif

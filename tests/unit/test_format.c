/* test_format.c - the CSV / JSON Lines writers against PostgreSQL's own bytes.
 *
 * The rows below are PostgreSQL 15's text output of the values in
 * tests/golden/format/golden.sql; the golden files were printed by
 * PostgreSQL itself (see tests/golden/format/README).
 */
#include "format/format.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"

#define GOLDEN_NCOLS 9
#define BIG_CAP	     (1u << 20)

struct golden_column {
	const char *name;
	unsigned int oid;
};

/* The columns of table "golden" in golden.sql, with their type OIDs. */
static const struct golden_column golden_columns[GOLDEN_NCOLS] = {
	{"id", 23},    /* int4 */
	{"txt", 25},   /* text */
	{"num", 1700}, /* numeric */
	{"flt", 701},  /* float8 */
	{"flag", 16},  /* bool */
	{"doc", 3802}, /* jsonb */
	{"ts", 1184},  /* timestamptz */
	{"tsn", 1114}, /* timestamp */
	{"odd, \"name\"", 25},
};

/* NULL is SQL NULL. */
static const char *const golden_rows[][GOLDEN_NCOLS] = {
	{"1", "hello", "42", "1.5", "t", "{\"a\": 1}", "2024-01-02 03:04:05.123456+00",
	 "2024-01-02 03:04:05.5", "x"},
	{"2", "a,b", "NaN", "NaN", "f", "[1, \"two\", null]", "2024-01-02 03:04:05+00",
	 "2024-01-02 03:04:05", ""},
	{"3", "say \"hi\"", "0.0", "-0", "t", "\"str\"", "2024-02-29 23:59:59.5+00",
	 "2024-02-29 23:59:59.000001", "\""},
	{"4", "cr\rhere", "0.0000001", "1e-07", "f", "null", "infinity", "infinity", ","},
	{"5", "line1\nline2", "Infinity", "Infinity", "t", "{\"k\": \"v,\\\"q\\\"\\n\"}",
	 "-infinity", "-infinity", "\n"},
	{"6", "crlf\r\nend", "-Infinity", "-Infinity", NULL, "{}", "0044-03-15 00:00:00+00 BC",
	 "0044-03-15 12:00:00.25 BC", "\r"},
	{"7", "é 漢字 😀", "123456789012345678901234567890.123456789", "1e+300", "t",
	 "{\"é\": \"漢字 😀\"}", "10000-01-01 00:00:00+00", "1999-12-31 23:59:59.999999", "ünïcödé"},
	{"8", "=SUM(A1:A2)", "-1", "-1.25e-10", "f", "[]", "1970-01-01 00:00:00+00",
	 "1970-01-01 00:00:00", "+cmd"},
	{"9", "@import", "0", "0.30000000000000004", "t", "0", "2000-01-01 00:00:00.1+00",
	 "2000-01-01 00:00:00.12", "-2"},
	{"10", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	{"11", "", "0.000", "0", "f", "\"\"", "2024-01-02 03:04:05.1+00", "2024-01-02 03:04:05.123",
	 ""},
	{"12", "\\.", "100", "100", "t", "\"\\\\.\"", "2024-01-02 03:04:05.12+00",
	 "2024-01-02 03:04:05.1234", "\\."},
	{"13", "  padded  ", "1.10", "1e-05", "f", "\"  padded  \"", "2024-01-02 03:04:05.1234+00",
	 "2024-01-02 03:04:05.12345", " "},
	{"14", "C:\\dir\\file", "99999999999999999999", "1e+15", "t",
	 "{\"path\": \"C:\\\\\\\\dir\"}", "2024-01-02 03:04:05.12345+00",
	 "2024-01-02 03:04:05.123456", "\\N"},
	{"15", "tab\there", "100000000000000000000", "1e+16", "f", "\"tab\\t\"",
	 "1999-12-31 23:59:59.999999+00", "0001-01-01 00:00:00", "\t"},
	{"16", "ctl\001\037\177", "-123.456", "-1.5e-300", "t", "[true, false]",
	 "4713-11-24 00:00:00+00 BC", "4713-01-01 00:00:00 BC", "bell\007"},
	{"17", "\"", "0.000000000000000000010", "3.4028235e+38", "f",
	 "{\"a\": {\"b\": [1, 2.5, \"c\"]}}", "0001-01-01 00:00:00+00", "2024-01-02 03:04:05",
	 "\"\""},
	{"18", ",", "2.50", "2.5", "t", "\"\\u0001x\"", "2024-06-30 12:00:00+00",
	 "2024-06-30 12:00:00", "a\"b,c\r\nd"},
};

#define GOLDEN_NROWS (sizeof(golden_rows) / sizeof(golden_rows[0]))

/* The one-column table "single" of golden.sql; its column is named \. too. */
static const char *const single_rows[][1] = {
	{"\\."}, {NULL}, {""}, {"a,b"}, {" \\."}, {"\\.x"}, {"plain"},
};

#define SINGLE_NROWS (sizeof(single_rows) / sizeof(single_rows[0]))

static void fields_from(const char *const *values, size_t n, struct format_field *fields)
{
	size_t i;

	for (i = 0; i < n; i++) {
		fields[i].value = values[i];
		fields[i].len = values[i] != NULL ? strlen(values[i]) : 0;
		fields[i].is_null = values[i] == NULL;
	}
}

static void golden_writer(struct format_writer *w, struct format_column *cols,
			  enum format_kind kind, int crlf)
{
	size_t i;

	for (i = 0; i < GOLDEN_NCOLS; i++) {
		cols[i].name = golden_columns[i].name;
		cols[i].type = format_type_from_oid(golden_columns[i].oid);
		cols[i].zoned = 0;
	}
	w->kind = kind;
	w->crlf = crlf;
	w->delimiter = ',';
	w->columns = cols;
	w->ncolumns = GOLDEN_NCOLS;
	w->formula_guard = 0;
}

/* out must match the golden bytes at *pos; what = "header" or "row N". */
static int check_piece(const struct buf *out, const char *g, size_t glen, size_t *pos,
		       const char *file, const char *what)
{
	size_t want = glen - *pos < out->len ? glen - *pos : out->len;

	if (!UNIT_EQ_MEM(buf_str(out), out->len, g + *pos, want)) {
		fprintf(stderr, "  in %s of %s\n", what, file);
		return 0;
	}
	*pos += out->len;
	return 1;
}

/* Header, then each row in a reused buffer, byte for byte against the file. */
static void check_golden(const struct format_writer *w, const char *const *const *rows,
			 size_t nrows, const char *file)
{
	struct format_field fields[GOLDEN_NCOLS];
	struct buf out;
	char what[32];
	size_t glen = 0, pos = 0, i;
	char *g = unit_read_file(file, &glen);

	buf_init(&out, BIG_CAP);
	if (g == NULL) {
		goto out;
	}
	if (!UNIT_EQ_INT(format_header(w, &out), EX_OK) ||
	    !check_piece(&out, g, glen, &pos, file, "header")) {
		goto out;
	}
	for (i = 0; i < nrows; i++) {
		buf_reset(&out);
		fields_from(rows[i], w->ncolumns, fields);
		snprintf(what, sizeof(what), "row %zu", i + 1);
		if (!UNIT_EQ_INT(format_row(w, fields, &out), EX_OK) ||
		    !check_piece(&out, g, glen, &pos, file, what)) {
			goto out;
		}
	}
	UNIT_EQ_INT(pos, glen);
out:
	buf_free(&out);
	free(g);
}

/* Row pointers of golden_rows, for check_golden(). */
static void golden_row_ptrs(const char *const **rows)
{
	size_t i;

	for (i = 0; i < GOLDEN_NROWS; i++) {
		rows[i] = golden_rows[i];
	}
}

static void test_golden_csv_lf(void)
{
	struct format_column cols[GOLDEN_NCOLS];
	const char *const *rows[GOLDEN_NROWS];
	struct format_writer w;

	golden_writer(&w, cols, FORMAT_CSV, 0);
	golden_row_ptrs(rows);
	check_golden(&w, rows, GOLDEN_NROWS, "tests/golden/format/golden.csv");
}

static void test_golden_csv_crlf(void)
{
	struct format_column cols[GOLDEN_NCOLS];
	const char *const *rows[GOLDEN_NROWS];
	struct format_writer w;

	golden_writer(&w, cols, FORMAT_CSV, 1);
	golden_row_ptrs(rows);
	check_golden(&w, rows, GOLDEN_NROWS, "tests/golden/format/golden_crlf.csv");
}

/* csv.delimiter: the same rows against COPY ... (DELIMITER d)'s bytes;
 * quoting follows the delimiter (a field holding it is quoted, a comma no
 * longer is). */
static void test_golden_csv_delimiters(void)
{
	static const struct {
		char delimiter;
		const char *file;
	} cases[] = {
		{';', "tests/golden/format/golden_semicolon.csv"},
		{'\t', "tests/golden/format/golden_tab.csv"},
		{'|', "tests/golden/format/golden_pipe.csv"},
	};
	struct format_column cols[GOLDEN_NCOLS];
	const char *const *rows[GOLDEN_NROWS];
	struct format_writer w;
	size_t i;

	golden_row_ptrs(rows);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		golden_writer(&w, cols, FORMAT_CSV, 0);
		w.delimiter = cases[i].delimiter;
		check_golden(&w, rows, GOLDEN_NROWS, cases[i].file);
	}
}

#define ZONED_MAX 128

/* The writer's input for table zoned: one UTC text per line, "" for NULL
 * (cut in place in text); the number of lines. */
static size_t zoned_inputs(char *text, size_t len, const char *values[ZONED_MAX][1])
{
	size_t n = 0;
	char *p = text, *end = text + len, *nl;

	while (p < end && n < ZONED_MAX) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			break;
		}
		*nl = '\0';
		values[n++][0] = *p != '\0' ? p : NULL;
		p = nl + 1;
	}
	return n;
}

/* timezone: a zoned timestamptz column moved with TZ set to the zone is
 * what PostgreSQL prints with TimeZone set to it (DST, LMT, past 2037,
 * BC, year 294276). */
static void test_golden_zoned(void)
{
	static const char *const zones[][2] = {
		{"Europe/Paris", "tests/golden/format/zoned_europe_paris.csv"},
		{"America/New_York", "tests/golden/format/zoned_america_new_york.csv"},
		{"Asia/Kolkata", "tests/golden/format/zoned_asia_kolkata.csv"},
	};
	static const char *values[ZONED_MAX][1];
	const char *const *rows[ZONED_MAX];
	struct format_column col = {"ts", FORMAT_TIMESTAMP, 1, FORMAT_OID_TIMESTAMPTZ};
	struct format_writer w = {
		.kind = FORMAT_CSV, .delimiter = ',', .columns = &col, .ncolumns = 1};
	size_t len = 0, n, i;
	char *text = unit_read_file("tests/golden/format/zoned_utc.txt", &len);

	if (!UNIT_CHECK(text != NULL)) {
		return;
	}
	n = zoned_inputs(text, len, values);
	UNIT_CHECK(n > 50);
	for (i = 0; i < n; i++) {
		rows[i] = values[i];
	}
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		UNIT_EQ_INT(setenv("TZ", zones[i][0], 1), 0);
		tzset();
		check_golden(&w, rows, n, zones[i][1]);
	}
	unsetenv("TZ");
	tzset();
	free(text);
}

static void test_delimiters_valid(void)
{
	UNIT_EQ_INT(format_valid_delimiter(","), 1);
	UNIT_EQ_INT(format_valid_delimiter(";"), 1);
	UNIT_EQ_INT(format_valid_delimiter("\t"), 1);
	UNIT_EQ_INT(format_valid_delimiter("|"), 1);
	UNIT_EQ_INT(format_valid_delimiter(""), 0);
	UNIT_EQ_INT(format_valid_delimiter(",;"), 0);
	UNIT_EQ_INT(format_valid_delimiter("\""), 0);
	UNIT_EQ_INT(format_valid_delimiter(":"), 0);
	UNIT_EQ_INT(format_valid_delimiter("\n"), 0);
}

static void test_golden_jsonl(void)
{
	struct format_column cols[GOLDEN_NCOLS];
	const char *const *rows[GOLDEN_NROWS];
	struct format_writer w;

	/* crlf is a CSV setting: JSON Lines stay LF. */
	golden_writer(&w, cols, FORMAT_JSONL, 1);
	golden_row_ptrs(rows);
	check_golden(&w, rows, GOLDEN_NROWS, "tests/golden/format/golden.jsonl");
}

static void test_golden_single_column(void)
{
	static const struct format_column col = {"\\.", FORMAT_TEXT, 0, 25};
	struct format_writer w = {
		.kind = FORMAT_CSV, .delimiter = ',', .columns = &col, .ncolumns = 1};
	const char *const *rows[SINGLE_NROWS];
	size_t i;

	for (i = 0; i < SINGLE_NROWS; i++) {
		rows[i] = single_rows[i];
	}
	check_golden(&w, rows, SINGLE_NROWS, "tests/golden/format/single.csv");
}

/* One row of a one-column writer; the bytes must equal want. */
static void check_one(enum format_kind kind, const char *name, enum format_type type,
		      const char *value, const char *want)
{
	const struct format_column col = {name, type, 0, 0};
	const struct format_writer w = {
		.kind = kind, .delimiter = ',', .columns = &col, .ncolumns = 1};
	struct format_field f;
	struct buf out;

	buf_init(&out, BIG_CAP);
	fields_from(&value, 1, &f);
	if (UNIT_EQ_INT(format_row(&w, &f, &out), EX_OK) && !UNIT_EQ_STR(buf_str(&out), want)) {
		fprintf(stderr, "  for value \"%s\"\n", value != NULL ? value : "(null)");
	}
	buf_free(&out);
}

static void test_jsonl_values(void)
{
	static const struct {
		enum format_type type;
		const char *value;
		const char *want;
	} cases[] = {
		{FORMAT_NUMBER, "1e-07", "{\"c\":1e-07}\n"},
		{FORMAT_NUMBER, "-0", "{\"c\":-0}\n"},
		{FORMAT_NUMBER, "NaN", "{\"c\":\"NaN\"}\n"},
		{FORMAT_NUMBER, "-Infinity", "{\"c\":\"-Infinity\"}\n"},
		/* not JSON numbers: kept, as strings */
		{FORMAT_NUMBER, "01", "{\"c\":\"01\"}\n"},
		{FORMAT_NUMBER, "1.", "{\"c\":\"1.\"}\n"},
		{FORMAT_NUMBER, ".5", "{\"c\":\".5\"}\n"},
		{FORMAT_NUMBER, "1e", "{\"c\":\"1e\"}\n"},
		{FORMAT_NUMBER, "-", "{\"c\":\"-\"}\n"},
		{FORMAT_NUMBER, " 1", "{\"c\":\" 1\"}\n"},
		{FORMAT_NUMBER, "", "{\"c\":\"\"}\n"},
		{FORMAT_NUMBER, NULL, "{\"c\":null}\n"},
		{FORMAT_BOOL, "t", "{\"c\":true}\n"},
		{FORMAT_BOOL, "f", "{\"c\":false}\n"},
		{FORMAT_BOOL, "true", "{\"c\":\"true\"}\n"},
		{FORMAT_JSON, "{\"a\": [1]}", "{\"c\":{\"a\": [1]}}\n"},
		{FORMAT_TEXT, "\b\f\n\r\t\001\037\177\"\\/é",
		 "{\"c\":\"\\b\\f\\n\\r\\t\\u0001\\u001f\177"
		 "\\\"\\\\/é\"}\n"},
		{FORMAT_TIMESTAMP, "2024-01-02 03:04:05+00",
		 "{\"c\":\"2024-01-02T03:04:05+00:00\"}\n"},
		{FORMAT_TIMESTAMP, "a\"b\n", "{\"c\":\"a\\\"b\\n\"}\n"},
		{FORMAT_TIMESTAMP, "", "{\"c\":\"\"}\n"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_one(FORMAT_JSONL, "c", cases[i].type, cases[i].value, cases[i].want);
	}
	check_one(FORMAT_JSONL, "a\"b\\\n", FORMAT_TEXT, "v", "{\"a\\\"b\\\\\\n\":\"v\"}\n");
}

static void test_csv_values(void)
{
	/* Timestamps that need quoting are no timestamps: quoted, unchanged. */
	check_one(FORMAT_CSV, "c", FORMAT_TIMESTAMP, "a,b", "\"a,b\"\n");
	check_one(FORMAT_CSV, "c", FORMAT_TIMESTAMP, "", "\"\"\n");
	check_one(FORMAT_CSV, "c", FORMAT_TIMESTAMP, "\\.", "\"\\.\"\n");
	check_one(FORMAT_CSV, "c", FORMAT_TIMESTAMP, NULL, "\n");
	check_one(FORMAT_CSV, "c", FORMAT_TIMESTAMP, "2024-01-02 03:04:05-05",
		  "2024-01-02T03:04:05-05:00\n");
	/* Types do not matter to CSV. */
	check_one(FORMAT_CSV, "c", FORMAT_BOOL, "t", "t\n");
	check_one(FORMAT_CSV, "c", FORMAT_NUMBER, "NaN", "NaN\n");
	check_one(FORMAT_CSV, "c", FORMAT_TEXT, "\"\"\"", "\"\"\"\"\"\"\"\"\n");
	check_one(FORMAT_CSV, "c", FORMAT_TEXT, "\"x", "\"\"\"x\"\n");
	check_one(FORMAT_CSV, "c", FORMAT_TEXT, "x\"", "\"x\"\"\"\n");
}

static void test_csv_header(void)
{
	static const struct format_column cols[] = {{"plain", FORMAT_TEXT, 0, 25},
						    {"", FORMAT_TEXT, 0, 25},
						    {"a\nb", FORMAT_TEXT, 0, 25},
						    {"\\.", FORMAT_TEXT, 0, 25}};
	struct format_writer w = {
		.kind = FORMAT_CSV, .crlf = 1, .delimiter = ',', .columns = cols, .ncolumns = 4};
	struct buf out;

	buf_init(&out, BIG_CAP);
	UNIT_EQ_INT(format_header(&w, &out), EX_OK);
	/* \. is quoted only when it is the only column. */
	UNIT_EQ_STR(buf_str(&out), "plain,\"\",\"a\nb\",\\.\r\n");
	buf_reset(&out);
	w.kind = FORMAT_JSONL;
	UNIT_EQ_INT(format_header(&w, &out), EX_OK);
	UNIT_EQ_INT(out.len, 0);
	buf_free(&out);
}

static void test_timestamp(void)
{
	static const struct {
		const char *in;
		const char *want; /* NULL: unchanged */
	} cases[] = {
		/* checked against PostgreSQL 15: to_json(v) #>> '{}' */
		{"2024-01-02 03:04:05.123456+00", "2024-01-02T03:04:05.123456+00:00"},
		{"2024-01-02 03:04:05+00", "2024-01-02T03:04:05+00:00"},
		{"2024-01-02 03:04:05.5", "2024-01-02T03:04:05.5"},
		{"2024-01-02 03:04:05", "2024-01-02T03:04:05"},
		{"0044-03-15 00:00:00 BC", "0044-03-15T00:00:00 BC"},
		{"0044-03-15 12:00:00.5+00 BC", "0044-03-15T12:00:00.5+00:00 BC"},
		{"2024-01-02 08:34:05.123456+05:30", "2024-01-02T08:34:05.123456+05:30"},
		{"2024-01-01 22:04:05.123456-05", "2024-01-01T22:04:05.123456-05:00"},
		{"1800-01-01 05:53:28+05:53:28", "1800-01-01T05:53:28+05:53:28"},
		{"1799-12-31 19:03:58-04:56:02", "1799-12-31T19:03:58-04:56:02"},
		{"294276-12-31 23:59:59.999999+00", "294276-12-31T23:59:59.999999+00:00"},
		{"infinity", NULL},
		{"-infinity", NULL},
		/* not PostgreSQL's ISO output: passed through */
		{"", NULL},
		{"2024-01-02", NULL},
		{"2024-01-02T03:04:05", NULL},
		{"2024-01-02 03:04:05Z", NULL},
		{"2024-01-02 03:04:05+0", NULL},
		{"2024-01-02 03:04:05+00:0", NULL},
		{"2024-01-02 03:04:05+00:00:00:00", NULL},
		{"2024-01-02 03:04:05.+00", NULL},
		{"2024-01-02 3:04:05", NULL},
		{"024-01-02 03:04:05", NULL},
		{"2024-01-02 03:04:05 AD", NULL},
		{"2024-01-02 03:04:05+00 BCE", NULL},
		{"2024-01-02 03:04:05+00BC", NULL},
		{"2024-01-02  03:04:05", NULL},
		{"20240102 03:04:05", NULL},
		{"2024-01-02 03:04:05.1234567890123456789012345678901234567890123456789+00", NULL},
	};
	struct buf out;
	size_t i;

	buf_init(&out, BIG_CAP);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *want = cases[i].want != NULL ? cases[i].want : cases[i].in;

		buf_reset(&out);
		UNIT_EQ_INT(format_timestamp(cases[i].in, strlen(cases[i].in), &out), EX_OK);
		UNIT_EQ_STR(buf_str(&out), want);
	}
	/* Only len bytes are read: values need not be NUL-terminated. */
	buf_reset(&out);
	UNIT_EQ_INT(format_timestamp("2024-01-02 03:04:05+00 trailing", 22, &out), EX_OK);
	UNIT_EQ_STR(buf_str(&out), "2024-01-02T03:04:05+00:00");
	buf_free(&out);
}

/* A zoned column moves only the UTC form "...+00": any other text (not a
 * timestamp, another offset, a year past PostgreSQL's) is written as the
 * plain rewrite writes it. */
static void test_timestamp_zoned_passes_others(void)
{
	static const char *const cases[] = {
		"infinity",
		"-infinity",
		"",
		"2024-01-02",
		"2024-01-02 03:04:05",
		"2024-01-02 03:04:05-05",
		"2024-01-02 08:34:05+05:30",
		"2024-01-02 03:04:05+00:00",
		"1234567-01-01 00:00:00+00",
		"2024-01-02 03:04:05+00BC",
		"a,b",
		"2024-01-02 03:04:05.1234567890123456789012345678901234567890123456789+00",
	};
	struct buf plain, zoned;
	size_t i;

	UNIT_EQ_INT(setenv("TZ", "Asia/Kolkata", 1), 0);
	tzset();
	buf_init(&plain, BIG_CAP);
	buf_init(&zoned, BIG_CAP);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&plain);
		buf_reset(&zoned);
		UNIT_EQ_INT(format_timestamp(cases[i], strlen(cases[i]), &plain), EX_OK);
		UNIT_EQ_INT(format_timestamp_zoned(cases[i], strlen(cases[i]), &zoned), EX_OK);
		UNIT_EQ_STR(buf_str(&zoned), buf_str(&plain));
	}
	/* and the UTC form is moved (len bytes only) */
	buf_reset(&zoned);
	UNIT_EQ_INT(format_timestamp_zoned("2024-01-02 03:04:05+00 trailing", 22, &zoned), EX_OK);
	UNIT_EQ_STR(buf_str(&zoned), "2024-01-02T08:34:05+05:30");
	buf_free(&plain);
	buf_free(&zoned);
	unsetenv("TZ");
	tzset();
}

/* Each golden row fits a cap of exactly its size and fails one byte short. */
static void check_cap(const struct format_writer *w, const struct format_field *fields)
{
	struct buf big, small;

	buf_init(&big, BIG_CAP);
	UNIT_EQ_INT(format_row(w, fields, &big), EX_OK);
	buf_init(&small, big.len);
	UNIT_EQ_INT(format_row(w, fields, &small), EX_OK);
	UNIT_EQ_MEM(buf_str(&small), small.len, buf_str(&big), big.len);
	buf_free(&small);
	buf_init(&small, big.len - 1);
	UNIT_EQ_INT(format_row(w, fields, &small), EX_ETOOBIG);
	buf_free(&small);
	buf_free(&big);
}

static void test_toobig(void)
{
	struct format_column cols[GOLDEN_NCOLS];
	struct format_field fields[GOLDEN_NCOLS];
	struct format_writer w;
	struct buf out;
	size_t i;

	for (i = 0; i < GOLDEN_NROWS; i++) {
		fields_from(golden_rows[i], GOLDEN_NCOLS, fields);
		golden_writer(&w, cols, FORMAT_CSV, 1);
		check_cap(&w, fields);
		golden_writer(&w, cols, FORMAT_JSONL, 0);
		check_cap(&w, fields);
	}
	golden_writer(&w, cols, FORMAT_CSV, 0);
	buf_init(&out, 8);
	UNIT_EQ_INT(format_header(&w, &out), EX_ETOOBIG);
	buf_free(&out);
	buf_init(&out, 10);
	UNIT_EQ_INT(format_timestamp("2024-01-02 03:04:05+00", 22, &out), EX_ETOOBIG);
	UNIT_EQ_INT(format_timestamp("infinity-and-beyond", 19, &out), EX_ETOOBIG);
	buf_free(&out);
}

static void test_kinds(void)
{
	enum format_kind kind = FORMAT_JSONL;
	struct format_writer w = {.kind = (enum format_kind)42, .delimiter = ','};
	enum format_compression comp = FORMAT_GZIP;
	struct buf out;

	UNIT_EQ_INT(format_parse_kind("csv", &kind), EX_OK);
	UNIT_EQ_INT(kind, FORMAT_CSV);
	UNIT_EQ_INT(format_parse_kind("jsonl", &kind), EX_OK);
	UNIT_EQ_INT(kind, FORMAT_JSONL);
	UNIT_EQ_INT(format_parse_kind("CSV", &kind), EX_EINVAL);
	UNIT_EQ_INT(format_parse_kind("json", &kind), EX_EINVAL);
	UNIT_EQ_INT(format_parse_kind("", &kind), EX_EINVAL);
	UNIT_EQ_STR(format_extension(FORMAT_CSV), "csv");
	UNIT_EQ_STR(format_extension(FORMAT_JSONL), "jsonl");
	UNIT_EQ_STR(format_content_type(FORMAT_CSV), "text/csv; charset=utf-8");
	UNIT_EQ_STR(format_content_type(FORMAT_JSONL), "application/x-ndjson");
	UNIT_EQ_INT(format_parse_compression("none", &comp), EX_OK);
	UNIT_EQ_INT(comp, FORMAT_PLAIN);
	UNIT_EQ_INT(format_parse_compression("zstd", &comp), EX_OK);
	UNIT_EQ_INT(comp, FORMAT_ZSTD);
	UNIT_EQ_INT(format_parse_compression("gzip", &comp), EX_OK);
	UNIT_EQ_INT(comp, FORMAT_GZIP);
	UNIT_EQ_INT(format_parse_compression("zst", &comp), EX_EINVAL);
	UNIT_EQ_INT(format_parse_compression("", &comp), EX_EINVAL);
	UNIT_EQ_STR(format_compression_suffix(FORMAT_PLAIN), "");
	UNIT_EQ_STR(format_compression_suffix(FORMAT_GZIP), ".gz");
	UNIT_EQ_STR(format_compression_suffix(FORMAT_ZSTD), ".zst");
	UNIT_EQ_INT(format_compression_type(FORMAT_PLAIN) == NULL, 1);
	UNIT_EQ_STR(format_compression_type(FORMAT_GZIP), "application/gzip");
	UNIT_EQ_STR(format_compression_type(FORMAT_ZSTD), "application/zstd");
	buf_init(&out, BIG_CAP);
	UNIT_EQ_INT(format_header(&w, &out), EX_EINVAL);
	UNIT_EQ_INT(format_row(&w, NULL, &out), EX_EINVAL);
	buf_free(&out);
}

static void test_type_from_oid(void)
{
	static const unsigned int numbers[] = {20, 21, 23, 26, 700, 701, 1700};
	/* text, varchar, bpchar, date, time, timetz, interval, uuid, inet,
	 * bytea, int4[], text[], jsonb[], name, 0 */
	static const unsigned int texts[] = {25,  1043, 1042, 1082, 1083, 1266, 1186, 2950,
					     869, 17,	1007, 1009, 3807, 19,	0};
	size_t i;

	for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		UNIT_EQ_INT(format_type_from_oid(numbers[i]), FORMAT_NUMBER);
	}
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		UNIT_EQ_INT(format_type_from_oid(texts[i]), FORMAT_TEXT);
	}
	UNIT_EQ_INT(format_type_from_oid(16), FORMAT_BOOL);
	UNIT_EQ_INT(format_type_from_oid(114), FORMAT_JSON);
	UNIT_EQ_INT(format_type_from_oid(3802), FORMAT_JSON);
	UNIT_EQ_INT(format_type_from_oid(1114), FORMAT_TIMESTAMP);
	UNIT_EQ_INT(format_type_from_oid(1184), FORMAT_TIMESTAMP);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_kinds),
		UNIT_TEST(test_type_from_oid),
		UNIT_TEST(test_timestamp),
		UNIT_TEST(test_csv_header),
		UNIT_TEST(test_csv_values),
		UNIT_TEST(test_jsonl_values),
		UNIT_TEST(test_golden_csv_lf),
		UNIT_TEST(test_golden_csv_crlf),
		UNIT_TEST(test_golden_jsonl),
		UNIT_TEST(test_golden_single_column),
		UNIT_TEST(test_toobig),
		UNIT_TEST(test_golden_csv_delimiters),
		UNIT_TEST(test_delimiters_valid),
		UNIT_TEST(test_golden_zoned),
		UNIT_TEST(test_timestamp_zoned_passes_others),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}

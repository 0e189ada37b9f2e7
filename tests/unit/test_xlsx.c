/* test_xlsx.c - the XLSX writer's pure parts, and its sheets read back with
 * unzip (the split is tested here with a limit of a few rows; the real
 * 1,048,576 in test_xlsx.py). */
#include "format/xlsx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static void test_exact_number(void)
{
	double d = 0;

	UNIT_CHECK(xlsx_exact_number("42", 2, &d) && d == 42);
	UNIT_CHECK(xlsx_exact_number("-0.10", 5, &d) && d == -0.1);
	UNIT_CHECK(xlsx_exact_number("123456789012345", 15, &d) && d == 123456789012345.0);
	UNIT_CHECK(xlsx_exact_number("99999999999999.9", 16, &d));
	UNIT_CHECK(xlsx_exact_number("100000000000000000000", 21, &d) && d == 1e20);
	UNIT_CHECK(xlsx_exact_number("0.000000000000000000012345", 26, &d) && d == 1.2345e-20);
	/* 16 significant digits: a double would round it */
	UNIT_CHECK(!xlsx_exact_number("1234567890123456", 16, &d));
	UNIT_CHECK(!xlsx_exact_number("9007199254740993", 16, &d));
	UNIT_CHECK(!xlsx_exact_number("12345678901234567890.123", 24, &d));
	UNIT_CHECK(!xlsx_exact_number("1.0000000000000001", 18, &d));
	UNIT_CHECK(!xlsx_exact_number("NaN", 3, &d));
	UNIT_CHECK(!xlsx_exact_number("Infinity", 8, &d));
	UNIT_CHECK(!xlsx_exact_number("", 0, &d));
	/* out of a double's range */
	UNIT_CHECK(!xlsx_exact_number("1e400", 5, &d));
	UNIT_CHECK(xlsx_exact_number("42", 1, &d) && d == 4); /* length-counted */
}

static void test_serial(void)
{
	double d = 0;

	UNIT_CHECK(xlsx_serial("1900-03-01", 10, &d) && d == 61);
	UNIT_CHECK(xlsx_serial("2024-01-02", 10, &d) && d == 45293);
	UNIT_CHECK(xlsx_serial("2024-01-02T12:00:00", 19, &d) && d == 45293.5);
	UNIT_CHECK(xlsx_serial("2024-01-02T06:00:00.5+01:00", 27, &d) && d > 45293.25 &&
		   d - 45293.25 - 0.5 / 86400 < 1e-9);
	UNIT_CHECK(xlsx_serial("9999-12-31", 10, &d) && d == 2958465);
	/* a double holds today's instants to a microsecond (its step is 0.6 µs) */
	UNIT_CHECK(xlsx_serial("2024-01-02T00:00:00.000001", 26, &d) &&
		   (d - 45293) * 86400e6 > 0.5 && (d - 45293) * 86400e6 < 1.5);
	/* Excel has no sound serial for these: they stay text */
	UNIT_CHECK(!xlsx_serial("1900-02-28", 10, &d));
	UNIT_CHECK(!xlsx_serial("1899-12-31", 10, &d));
	UNIT_CHECK(!xlsx_serial("0044-03-15 BC", 13, &d));
	UNIT_CHECK(!xlsx_serial("2024-01-02T00:00:00+00:00 BC", 28, &d));
	UNIT_CHECK(!xlsx_serial("10000-01-01", 11, &d));
	UNIT_CHECK(!xlsx_serial("infinity", 8, &d));
	UNIT_CHECK(!xlsx_serial("2024-13-01", 10, &d));
	UNIT_CHECK(!xlsx_serial("2024-01-02 03:04", 16, &d));
}

static void test_text_units(void)
{
	UNIT_EQ_INT(xlsx_text_units("abc", 3), 3);
	UNIT_EQ_INT(xlsx_text_units("\xC3\xBC", 2), 1);		/* ü */
	UNIT_EQ_INT(xlsx_text_units("\xE2\x82\xAC", 3), 1);	/* € */
	UNIT_EQ_INT(xlsx_text_units("\xF0\x9F\x98\x80", 4), 2); /* 😀: a surrogate pair */
}

/* unzip -p path member: the member's text (caller frees), or NULL. */
static char *test_unzip(const char *path, const char *member)
{
	char cmd[512];
	struct buf out;
	char chunk[4096];
	size_t n;
	FILE *p;
	char *text = NULL;

	snprintf(cmd, sizeof(cmd), "unzip -p '%s' '%s'", path, member);
	p = popen(cmd, "r");
	if (p == NULL) {
		return NULL;
	}
	buf_init(&out, 1u << 24);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		if (buf_append(&out, chunk, n)) {
			break;
		}
	}
	if (pclose(p) == 0 && out.len > 0) {
		text = strdup(buf_str(&out));
	}
	buf_free(&out);
	return text;
}

static const struct format_column split_cols[] = {
	{"id", FORMAT_NUMBER, 0, 20},
	{"name", FORMAT_TEXT, 0, 25},
};

/* Write n rows with sheets of limit rows (header included); the path. */
static int test_write(const char *sheet, long long limit, int n, char *path, size_t size)
{
	struct xlsx_options o = {path, "/tmp", sheet, limit};
	struct format_field f[2];
	struct buf err;
	struct xlsx *x = NULL;
	char id[32];
	int i, ok = 1;

	snprintf(path, size, "/tmp/test_xlsx_%ld.xlsx", (long)getpid());
	buf_init(&err, 1024);
	ok = UNIT_EQ_INT(xlsx_open(&o, split_cols, 2, &x, &err), EX_OK);
	for (i = 1; ok && i <= n; i++) {
		snprintf(id, sizeof(id), "%d", i);
		f[0] = (struct format_field){id, strlen(id), 0};
		f[1] = (struct format_field){"_x0041_", 7, 0};
		ok = UNIT_EQ_INT(xlsx_row(x, f, id, &err), EX_OK);
	}
	if (x != NULL) {
		ok = UNIT_EQ_INT(xlsx_rows(x), n) && ok;
		ok = UNIT_EQ_INT(xlsx_close(x, &err), EX_OK) && ok;
	}
	buf_free(&err);
	return ok;
}

static void test_sheet_split(void)
{
	char path[128];
	char *wb = NULL, *s2 = NULL, *s3 = NULL;

	/* 5 rows, 3 per sheet with the header: 2 + 2 + 1 */
	if (!test_write("contacts", 3, 5, path, sizeof(path))) {
		goto out;
	}
	wb = test_unzip(path, "xl/workbook.xml");
	s2 = test_unzip(path, "xl/worksheets/sheet2.xml");
	s3 = test_unzip(path, "xl/worksheets/sheet3.xml");
	if (!UNIT_CHECK(wb != NULL && s2 != NULL && s3 != NULL)) {
		goto out;
	}
	UNIT_CHECK(strstr(wb, "name=\"contacts\"") != NULL);
	UNIT_CHECK(strstr(wb, "name=\"contacts (2)\"") != NULL);
	UNIT_CHECK(strstr(wb, "name=\"contacts (3)\"") != NULL);
	UNIT_CHECK(strstr(wb, "name=\"contacts (4)\"") == NULL);
	/* the header repeated, rows 3 and 4, the autofilter over them */
	UNIT_CHECK(strstr(s2, "<t>id</t>") != NULL && strstr(s2, "<t>name</t>") != NULL);
	UNIT_CHECK(strstr(s2, "<v>3</v>") != NULL && strstr(s2, "<v>4</v>") != NULL);
	UNIT_CHECK(strstr(s2, "<v>5</v>") == NULL && strstr(s2, "<v>2</v>") == NULL);
	UNIT_CHECK(strstr(s2, "<autoFilter ref=\"A1:B3\"/>") != NULL);
	UNIT_CHECK(strstr(s3, "<v>5</v>") != NULL && strstr(s3, "r=\"A3\"") == NULL);
	UNIT_CHECK(strstr(s3, "<autoFilter ref=\"A1:B2\"/>") != NULL);
	UNIT_CHECK(strstr(s3, "<pane ySplit=\"1\"") != NULL);
	/* text that looks like an escape stays text */
	UNIT_CHECK(strstr(s3, "<t>_x005F_x0041_</t>") != NULL);
out:
	free(wb);
	free(s2);
	free(s3);
	unlink(path);
}

static void test_sheet_name(void)
{
	char path[128];
	char *wb = NULL;

	/* Excel's forbidden characters, and 31 characters with " (n)" */
	if (!test_write("a/b:c*d?e[f]g\\h_0123456789abcdefghij", 2, 2, path, sizeof(path))) {
		goto out;
	}
	wb = test_unzip(path, "xl/workbook.xml");
	if (!UNIT_CHECK(wb != NULL)) {
		goto out;
	}
	UNIT_CHECK(strstr(wb, "name=\"a_b_c_d_e_f_g_h_012345678\"") != NULL);
	UNIT_CHECK(strstr(wb, "name=\"a_b_c_d_e_f_g_h_012345678 (2)\"") != NULL);
out:
	free(wb);
	unlink(path);
}

static void test_cell_too_long(void)
{
	struct xlsx_options o = {"/tmp/test_xlsx_long.xlsx", "/tmp", "t", XLSX_SHEET_ROWS};
	struct format_field f[2];
	struct buf err;
	struct xlsx *x = NULL;
	char *big = malloc(XLSX_CELL_MAX + 1);

	buf_init(&err, 1024);
	if (!UNIT_CHECK(big != NULL) ||
	    !UNIT_EQ_INT(xlsx_open(&o, split_cols, 2, &x, &err), EX_OK)) {
		goto out;
	}
	memset(big, 'a', XLSX_CELL_MAX + 1);
	f[0] = (struct format_field){"7", 1, 0};
	f[1] = (struct format_field){big, XLSX_CELL_MAX, 0};
	UNIT_EQ_INT(xlsx_row(x, f, "7", &err), EX_OK); /* exactly the limit */
	f[1].len = XLSX_CELL_MAX + 1;
	UNIT_EQ_INT(xlsx_row(x, f, "8", &err), EX_ETOOBIG);
	UNIT_EQ_STR(buf_str(&err), "row with key 8: column \"name\" holds 32768 characters, more "
				   "than the 32767 an XLSX cell can hold");
out:
	xlsx_free(x);
	unlink(o.path);
	buf_free(&err);
	free(big);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_exact_number), UNIT_TEST(test_serial),
		UNIT_TEST(test_text_units),   UNIT_TEST(test_sheet_split),
		UNIT_TEST(test_sheet_name),   UNIT_TEST(test_cell_too_long),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}

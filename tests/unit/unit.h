/* unit.h - a tiny unit-test harness: one .c file per test program.
 *
 *	static void test_parse(void)
 *	{
 *		UNIT_CHECK(1 + 1 == 2);
 *		UNIT_EQ_INT(f(), EX_OK);
 *		UNIT_EQ_STR(buf_str(&b), "expected");
 *	}
 *
 *	int main(void)
 *	{
 *		static const struct unit_test tests[] = {UNIT_TEST(test_parse)};
 *
 *		return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
 *	}
 *
 * A failed check reports file:line and carries on with the test; the checks
 * are expressions worth 1 (pass) or 0, so `if (!UNIT_CHECK(p != NULL)) return;`
 * guards what follows.  unit_run() ends with exactly one line on stdout,
 * "N passed, N failed" (tests, not checks), and returns 1 if any test failed,
 * which the automake test driver reads as FAIL.
 *
 * Data files are found under $srcdir (set by automake's test driver; "."
 * otherwise): unit_read_file("tests/golden/x") reads "$srcdir/tests/golden/x".
 */
#ifndef EXPORTD_UNIT_H
#define EXPORTD_UNIT_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

#define UNIT_TEST(func)                                                                            \
	{                                                                                          \
		.name = #func, .fn = func                                                          \
	}

/* Checks failed so far by the running test. */
static int unit_failures;

#define UNIT_CHECK(cond) unit_check((cond) != 0, #cond, __FILE__, __LINE__)
#define UNIT_EQ_INT(got, want)                                                                     \
	unit_eq_int((long long)(got), (long long)(want), #got, __FILE__, __LINE__)
#define UNIT_EQ_STR(got, want) unit_eq_str((got), (want), #got, __FILE__, __LINE__)
#define UNIT_EQ_MEM(got, got_len, want, want_len)                                                  \
	unit_eq_mem((got), (got_len), (want), (want_len), #got, __FILE__, __LINE__)

static inline int unit_check(int ok, const char *expr, const char *file, int line)
{
	if (!ok) {
		unit_failures++;
		fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
	}
	return ok;
}

static inline int unit_eq_int(long long got, long long want, const char *expr, const char *file,
			      int line)
{
	if (got != want) {
		unit_failures++;
		fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", file, line, expr, got, want);
	}
	return got == want;
}

/* Up to 40 bytes of s from off, C-escaped, on stderr. */
static inline void unit_excerpt(const char *label, const char *s, size_t len, size_t off)
{
	size_t i, end = len - off > 40 ? off + 40 : len;

	fprintf(stderr, "  %s: \"", label);
	for (i = off; i < end; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			fprintf(stderr, "\\%c", c);
		} else if (c < 0x20 || c >= 0x7f) {
			fprintf(stderr, "\\x%02x", c);
		} else {
			fputc(c, stderr);
		}
	}
	fprintf(stderr, "\"%s\n", end < len ? "..." : "");
}

static inline int unit_eq_mem(const void *got, size_t got_len, const void *want, size_t want_len,
			      const char *expr, const char *file, int line)
{
	const char *g = got, *w = want;
	size_t i = 0;

	while (i < got_len && i < want_len && g[i] == w[i]) {
		i++;
	}
	if (i == got_len && i == want_len) {
		return 1;
	}
	unit_failures++;
	fprintf(stderr, "%s:%d: %s differs at byte %zu (got %zu bytes, want %zu)\n", file, line,
		expr, i, got_len, want_len);
	unit_excerpt("got ", g, got_len, i);
	unit_excerpt("want", w, want_len, i);
	return 0;
}

static inline int unit_eq_str(const char *got, const char *want, const char *expr, const char *file,
			      int line)
{
	if (got == NULL || want == NULL) {
		return unit_check(got == want, expr, file, line);
	}
	return unit_eq_mem(got, strlen(got), want, strlen(want), expr, file, line);
}

/* "$srcdir/relpath" read whole and NUL-terminated; NULL (reported) on error.
 * The caller frees the result. */
static inline char *unit_read_file(const char *relpath, size_t *len)
{
	const char *dir = getenv("srcdir");
	char path[4096] = "";
	char *data = NULL;
	FILE *f = NULL;
	long size = -1;
	int n;

	if (dir == NULL || dir[0] == '\0') {
		dir = ".";
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, relpath);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		goto out;
	}
	f = fopen(path, "rb");
	if (f == NULL) {
		goto out;
	}
	if (fseek(f, 0, SEEK_END) == 0) {
		size = ftell(f);
	}
	if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
		goto out;
	}
	data = malloc((size_t)size + 1);
	if (data != NULL && fread(data, 1, (size_t)size, f) != (size_t)size) {
		free(data);
		data = NULL;
	}
	if (data != NULL) {
		data[size] = '\0';
		*len = (size_t)size;
	}
out:
	if (f != NULL) {
		fclose(f);
	}
	if (data == NULL) {
		unit_failures++;
		fprintf(stderr, "cannot read %s (srcdir %s)\n", path, dir);
	}
	return data;
}

static inline int unit_run(const struct unit_test *tests, size_t n)
{
	int passed = 0, failed = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unit_failures = 0;
		tests[i].fn();
		if (unit_failures == 0) {
			passed++;
			continue;
		}
		failed++;
		fprintf(stderr, "FAIL %s (%d checks)\n", tests[i].name, unit_failures);
	}
	fflush(stderr);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

#endif

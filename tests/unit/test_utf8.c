/* test_utf8.c - strict decoding, cutting at character boundaries, cleaning. */
#include "common/utf8.h"

#include <string.h>

#include "unit.h"

static size_t decode(const char *s, unsigned int *cp)
{
	return utf8_decode(s, strlen(s), cp);
}

static void test_decode(void)
{
	unsigned int cp = 0;

	UNIT_EQ_INT(decode("A", &cp), 1);
	UNIT_EQ_INT(cp, 'A');
	UNIT_EQ_INT(decode("\xc3\xa9", &cp), 2);
	UNIT_EQ_INT(cp, 0xE9);
	UNIT_EQ_INT(decode("\xe6\xbc\xa2", &cp), 3);
	UNIT_EQ_INT(cp, 0x6F22);
	UNIT_EQ_INT(decode("\xf0\x9f\x93\xa6", &cp), 4);
	UNIT_EQ_INT(cp, 0x1F4E6);
	UNIT_EQ_INT(decode("\xf4\x8f\xbf\xbf", &cp), 4); /* U+10FFFF */
	UNIT_EQ_INT(utf8_decode("\0", 1, &cp), 1);	 /* NUL is a character */
	UNIT_EQ_INT(utf8_decode("A", 0, &cp), 0);
}

static void test_decode_invalid(void)
{
	static const char *const bad[] = {
		"\x80",		    /* lone continuation byte */
		"\xbf",		    /* lone continuation byte */
		"\xc0\xaf",	    /* overlong '/' */
		"\xc1\xbf",	    /* overlong */
		"\xe0\x80\xaf",	    /* overlong, 3 bytes */
		"\xf0\x80\x80\xaf", /* overlong, 4 bytes */
		"\xed\xa0\x80",	    /* surrogate U+D800 */
		"\xed\xbf\xbf",	    /* surrogate U+DFFF */
		"\xf4\x90\x80\x80", /* U+110000 */
		"\xf8\x88\x80\x80", /* 5-byte form */
		"\xff",		    /* never in UTF-8 */
		"\xc3",		    /* cut short by the end */
		"\xe6\xbc",	    /* cut short by the end */
		"\xc3(",	    /* continuation missing */
		"\xe6\xbc(",	    /* continuation missing */
	};
	unsigned int cp = 0;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!UNIT_EQ_INT(decode(bad[i], &cp), 0)) {
			fprintf(stderr, "  input %zu\n", i);
		}
	}
	/* A length that cuts a sequence short makes it invalid. */
	UNIT_EQ_INT(utf8_decode("\xe6\xbc\xa2", 2, &cp), 0);
}

/* The whole-body check POST /exports runs before json-c sees the body:
 * json-c's own check lets overlong forms, surrogates and code points past
 * U+10FFFF through. */
static void test_valid(void)
{
	static const char *const bad[] = {
		"{\"a\": \"\xc0\xaf\"}",
		"x\xed\xa0\x80",
		"\xf4\x90\x80\x80",
		"ok\xf8\x88\x80\x80\x80",
		"\xe0\x80\xaf",
		"tail\xc3",
		"\xff",
		"\xc1\xbf x",
	};
	size_t i;

	UNIT_CHECK(utf8_valid("", 0));
	UNIT_CHECK(utf8_valid("{\"type\": \"contacts\"}", 20));
	UNIT_CHECK(utf8_valid("\xf4\x8f\xbf\xbf\xef\xbf\xbd\xc3\xa9", 9));
	UNIT_CHECK(utf8_valid("a\0b", 3)); /* NUL is U+0000: the caller's to refuse */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!UNIT_CHECK(!utf8_valid(bad[i], strlen(bad[i])))) {
			fprintf(stderr, "  input %zu\n", i);
		}
	}
	/* A length that cuts the last character short. */
	UNIT_CHECK(!utf8_valid("a\xc3\xa9", 2));
}

static void test_cut(void)
{
	const char *s = "a\xc3\xa9\xe6\xbc\xa2\xf0\x9f\x93\xa6"; /* a é 漢 📦: 1+2+3+4 */
	size_t len = strlen(s), max, want;

	UNIT_EQ_INT(utf8_cut(s, len, len), len);
	UNIT_EQ_INT(utf8_cut(s, len, 100), len);
	UNIT_EQ_INT(utf8_cut(s, len, 0), 0);
	for (max = 0; max < len; max++) {
		want = max < 1 ? 0 : max < 3 ? 1 : max < 6 ? 3 : 6;
		if (!UNIT_EQ_INT(utf8_cut(s, len, max), want)) {
			fprintf(stderr, "  max %zu\n", max);
		}
	}
	UNIT_EQ_INT(utf8_cut("", 0, 0), 0);
}

static void check_clean(const char *in, enum utf8_mode mode, const char *want)
{
	struct buf out;

	buf_init(&out, 4096);
	if (UNIT_EQ_INT(utf8_clean(in, mode, &out), EX_OK)) {
		UNIT_EQ_STR(buf_str(&out), want);
	}
	buf_free(&out);
}

static void test_clean_oneline(void)
{
	check_clean(NULL, UTF8_ONELINE, "");
	check_clean("", UTF8_ONELINE, "");
	check_clean("plain", UTF8_ONELINE, "plain");
	check_clean("  a \t b\r\nc  ", UTF8_ONELINE, "a b c");
	check_clean("a\rb\nc\r\n\r\nd", UTF8_ONELINE, "a b c d");
	check_clean("a\xc2\x85"
		    "b\xe2\x80\xa8"
		    "c\xe2\x80\xa9"
		    "d",
		    UTF8_ONELINE, "a b c d");
	check_clean("bell\007 esc\033 del\177", UTF8_ONELINE, "bell esc del");
	check_clean("c1\xc2\x80\xc2\x9f!", UTF8_ONELINE, "c1!");
	check_clean("bad \xff\xfe utf8 \xc3", UTF8_ONELINE,
		    "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD");
	check_clean("Caf\xc3\xa9", UTF8_ONELINE, "Caf\xc3\xa9");
	check_clean(" \r\n\t ", UTF8_ONELINE, "");
}

static void test_clean_multiline(void)
{
	check_clean("first line\r\n  second, indented  \n\n\nlast\n", UTF8_MULTILINE,
		    "first line\n  second, indented\n\n\nlast");
	check_clean("\n\n  lead", UTF8_MULTILINE, "lead");
	check_clean("a\rb\r\nc", UTF8_MULTILINE, "a\nb\nc");
	check_clean("col\t^ here \x01", UTF8_MULTILINE, "col\t^ here");
	check_clean("x \t\ny", UTF8_MULTILINE, "x\ny");
}

static void test_clean_out_of_room(void)
{
	struct buf out;

	buf_init(&out, 4);
	UNIT_EQ_INT(utf8_clean("abcdef", UTF8_ONELINE, &out), EX_ETOOBIG);
	buf_free(&out);
	buf_init(&out, 4);
	UNIT_EQ_INT(utf8_clean("ab    cd", UTF8_ONELINE, &out), EX_ETOOBIG);
	buf_free(&out);
}

/* Bytes F8-FF never start a sequence, even when their low bits followed by
 * three continuation bytes would spell a code point in range (found by
 * tests/fuzz/fuzz_jsonl.c: F8-FC were read as F0-F4). */
static void test_no_lead_past_f4(void)
{
	static const char *const bad[] = {
		"\xf8\x90\x80\x80", /* would be U+10000 */
		"\xfb\xbf\xbf\xbf", /* would be U+FFFFF */
		"\xfc\x8c\x9e\x98", /* would be U+10C798 */
		"\xfc\x8f\xbf\xbf", /* would be U+10FFFF */
	};
	unsigned int cp = 0;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		UNIT_EQ_INT(decode(bad[i], &cp), 0);
		UNIT_CHECK(!utf8_valid(bad[i], strlen(bad[i])));
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_decode),
		UNIT_TEST(test_decode_invalid),
		UNIT_TEST(test_no_lead_past_f4),

		UNIT_TEST(test_valid),
		UNIT_TEST(test_cut),
		UNIT_TEST(test_clean_oneline),
		UNIT_TEST(test_clean_multiline),
		UNIT_TEST(test_clean_out_of_room),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}

/* struct buf (caps, in-place writes, truncation) and the hex codec. */
#include "common/buf.h"
#include "common/hex.h"

#include "unit.h"

static void test_buf_cap(void)
{
	struct buf b;

	buf_init(&b, 8);
	UNIT_EQ_STR(buf_str(&b), "");
	UNIT_EQ_INT(buf_puts(&b, "12345678"), EX_OK);
	UNIT_EQ_INT(buf_putc(&b, '9'), EX_ETOOBIG);
	UNIT_EQ_STR(buf_str(&b), "12345678"); /* a refused append changes nothing */
	buf_reset(&b);
	UNIT_EQ_INT(buf_printf(&b, "%d-%s", 12, "ab"), EX_OK);
	UNIT_EQ_STR(buf_str(&b), "12-ab");
	UNIT_EQ_INT(buf_printf(&b, "%s", "long"), EX_ETOOBIG);
	UNIT_EQ_STR(buf_str(&b), "12-ab");
	buf_free(&b);
}

static void test_buf_extend(void)
{
	struct buf b;
	char *p;

	buf_init(&b, 16);
	UNIT_EQ_INT(buf_extend(&b, 0), EX_OK); /* nothing reserved, nothing written */
	UNIT_EQ_INT(buf_extend(&b, 1), EX_EINVAL);
	UNIT_EQ_INT(buf_puts(&b, "ab"), EX_OK);
	if (!UNIT_EQ_INT(buf_reserve(&b, 3), EX_OK)) {
		return;
	}
	p = buf_tail(&b);
	memcpy(p, "cde", 3);
	UNIT_EQ_INT(buf_extend(&b, 3), EX_OK);
	UNIT_EQ_INT(b.len, 5);
	UNIT_EQ_STR(buf_str(&b), "abcde");
	/* Past the allocation: refused, contents unchanged. */
	UNIT_EQ_INT(buf_extend(&b, b.alloc), EX_EINVAL);
	UNIT_EQ_STR(buf_str(&b), "abcde");
	buf_free(&b);
}

static void test_buf_truncate(void)
{
	struct buf b;

	buf_init(&b, 64);
	buf_truncate(&b, 0); /* empty, never allocated */
	UNIT_EQ_STR(buf_str(&b), "");
	UNIT_EQ_INT(buf_puts(&b, "hello world"), EX_OK);
	buf_truncate(&b, 20);
	UNIT_EQ_STR(buf_str(&b), "hello world");
	buf_truncate(&b, 5);
	UNIT_EQ_INT(b.len, 5);
	UNIT_EQ_STR(buf_str(&b), "hello");
	UNIT_EQ_INT(buf_puts(&b, "!"), EX_OK);
	UNIT_EQ_STR(buf_str(&b), "hello!");
	buf_free(&b);
}

static void test_buf_msg(void)
{
	struct buf b;

	buf_init(&b, 5);
	buf_msg(&b, "%s", "too long for it");
	UNIT_EQ_STR(buf_str(&b), "too l");
	buf_free(&b);
}

static void test_hex(void)
{
	static const unsigned char raw[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	unsigned char back[sizeof(raw)];
	char out[2 * sizeof(raw) + 1];

	UNIT_EQ_INT(hex_digit('0'), 0);
	UNIT_EQ_INT(hex_digit('a'), 10);
	UNIT_EQ_INT(hex_digit('F'), 15);
	UNIT_EQ_INT(hex_digit('g'), -1);
	UNIT_EQ_INT(hex_digit('\0'), -1);
	hex_encode(raw, sizeof(raw), out);
	UNIT_EQ_STR(out, "00017f80abff");
	hex_encode_upper(raw, sizeof(raw), out);
	UNIT_EQ_STR(out, "00017F80ABFF");
	hex_encode(raw, 0, out);
	UNIT_EQ_STR(out, "");
	UNIT_EQ_INT(hex_decode("00017f80abff", back, sizeof(back)), EX_OK);
	UNIT_EQ_MEM(back, sizeof(back), raw, sizeof(raw));
	UNIT_EQ_INT(hex_decode("00017F80ABFF", back, sizeof(back)), EX_EINVAL);
	UNIT_EQ_INT(hex_decode("0001", back, sizeof(back)), EX_EINVAL); /* short */
	UNIT_EQ_INT(hex_decode("0g", back, 1), EX_EINVAL);
	UNIT_EQ_INT(hex_decode("", back, 0), EX_OK);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_buf_cap), UNIT_TEST(test_buf_extend), UNIT_TEST(test_buf_truncate),
		UNIT_TEST(test_buf_msg), UNIT_TEST(test_hex),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}

/* hex.c - the one hexadecimal encoder and decoder (see hex.h). */
#include "common/hex.h"

static void hex_with(const char *digits, const unsigned char *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void hex_encode(const void *in, size_t len, char *out)
{
	hex_with("0123456789abcdef", in, len, out);
}

void hex_encode_upper(const void *in, size_t len, char *out)
{
	hex_with("0123456789ABCDEF", in, len, out);
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A lower-case digit's value, else -1. */
static int hex_nibble(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : hex_digit(c);
}

enum ex_status hex_decode(const char *in, void *out, size_t len)
{
	unsigned char *o = out;
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		/* hi < 0 at a NUL, so a short string stops before reading past it. */
		hi = hex_nibble(in[2 * i]);
		if (hi < 0) {
			return EX_EINVAL;
		}
		lo = hex_nibble(in[2 * i + 1]);
		if (lo < 0) {
			return EX_EINVAL;
		}
		o[i] = (unsigned char)(hi << 4 | lo);
	}
	return EX_OK;
}

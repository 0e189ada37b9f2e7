#include "common/sha256.h"

/* SHA256_CTX is deprecated in OpenSSL 3 in favour of EVP, which cannot be
 * saved and loaded; the low-level API is still there, and still as fast
 * (SHA-NI / AVX2): a hand-written loop cost four times the formatting. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <string.h>

_Static_assert(sizeof(SHA256_CTX) <= SHA256_STATE_BYTES, "SHA256_CTX outgrew the saved state");

static const char sha256_hexdigits[] = "0123456789abcdef";

void sha256_init(struct sha256 *s)
{
	memset(s, 0, sizeof(*s));
	SHA256_Init((SHA256_CTX *)(void *)s->ctx);
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	SHA256_Update((SHA256_CTX *)(void *)s->ctx, data, len);
	s->bytes += len;
}

void sha256_hex(const struct sha256 *s, char out[65])
{
	SHA256_CTX copy;
	unsigned char md[32];
	int i;

	memcpy(&copy, s->ctx, sizeof(copy));
	SHA256_Final(md, &copy);
	for (i = 0; i < 32; i++) {
		out[2 * i] = sha256_hexdigits[md[i] >> 4];
		out[2 * i + 1] = sha256_hexdigits[md[i] & 15];
	}
	out[64] = '\0';
}

/* The state is the context's bytes (a plain struct of integers) plus the
 * length, in hex.  Valid for the OpenSSL build that wrote it, which is the
 * one resuming it in practice; a state from another build is refused by the
 * length check below and the export starts over. */
void sha256_save(const struct sha256 *s, char out[SHA256_STATE_HEX + 1])
{
	const unsigned char *raw = (const unsigned char *)s->ctx;
	size_t i;

	for (i = 0; i < sizeof(SHA256_CTX); i++) {
		out[2 * i] = sha256_hexdigits[raw[i] >> 4];
		out[2 * i + 1] = sha256_hexdigits[raw[i] & 15];
	}
	for (i = 0; i < 8; i++) {
		unsigned char b = (unsigned char)(s->bytes >> (56 - 8 * i));

		out[2 * sizeof(SHA256_CTX) + 2 * i] = sha256_hexdigits[b >> 4];
		out[2 * sizeof(SHA256_CTX) + 2 * i + 1] = sha256_hexdigits[b & 15];
	}
	out[2 * sizeof(SHA256_CTX) + 16] = '\0';
}

static int sha256_nibble(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

enum ex_status sha256_load(struct sha256 *s, const char *text)
{
	unsigned char raw[SHA256_STATE_BYTES + 8];
	size_t i, n = sizeof(SHA256_CTX) + 8;
	SHA256_CTX ctx;
	int hi, lo;

	if (strlen(text) != 2 * n) {
		return EX_EINVAL;
	}
	for (i = 0; i < n; i++) {
		hi = sha256_nibble(text[2 * i]);
		lo = sha256_nibble(text[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return EX_EINVAL;
		}
		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	memcpy(&ctx, raw, sizeof(ctx));
	memset(s, 0, sizeof(*s));
	memcpy(s->ctx, &ctx, sizeof(ctx));
	for (i = 0; i < 8; i++) {
		s->bytes = s->bytes << 8 | raw[sizeof(ctx) + i];
	}
	/* The context counts bits in Nl/Nh and buffers num bytes: both must
	 * agree with the length, or this is not a state we wrote. */
	if ((((unsigned long long)ctx.Nh << 32) | ctx.Nl) != s->bytes * 8 ||
	    ctx.num != s->bytes % 64 || ctx.md_len != 32) {
		return EX_EINVAL;
	}
	return EX_OK;
}

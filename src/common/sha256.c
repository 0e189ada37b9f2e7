#include "common/sha256.h"

/* SHA256_CTX is deprecated in OpenSSL 3 in favour of EVP, which cannot be
 * saved and loaded; the low-level API is still there, and still as fast
 * (SHA-NI / AVX2): a hand-written loop cost four times the formatting. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <string.h>

#include "common/hex.h"

_Static_assert(sizeof(SHA256_CTX) <= SHA256_STATE_BYTES, "SHA256_CTX outgrew the saved state");

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

	memcpy(&copy, s->ctx, sizeof(copy));
	SHA256_Final(md, &copy);
	hex_encode(md, sizeof(md), out);
}

/* The state is the context's bytes (a plain struct of integers) plus the
 * length, in hex.  Valid for the OpenSSL build that wrote it, which is the
 * one resuming it in practice; a state from another build is refused by the
 * length check below and the export starts over. */
void sha256_save(const struct sha256 *s, char out[SHA256_STATE_HEX + 1])
{
	unsigned char length[8];
	size_t i;

	for (i = 0; i < 8; i++) {
		length[i] = (unsigned char)(s->bytes >> (56 - 8 * i));
	}
	hex_encode(s->ctx, sizeof(SHA256_CTX), out);
	hex_encode(length, sizeof(length), out + 2 * sizeof(SHA256_CTX));
}

enum ex_status sha256_load(struct sha256 *s, const char *text)
{
	unsigned char raw[SHA256_STATE_BYTES + 8];
	size_t i, n = sizeof(SHA256_CTX) + 8;
	SHA256_CTX ctx;
	enum ex_status st;

	if (strlen(text) != 2 * n) {
		return EX_EINVAL;
	}
	st = hex_decode(text, raw, n);
	if (st) {
		return st;
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

#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <limits.h>
#include <openssl/rand.h>
#include <string.h>

#include "common/hex.h"

static const char crypto_b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum ex_status crypto_random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];

	if (nbytes > sizeof(raw)) {
		return EX_EINVAL;
	}
	if (RAND_bytes(raw, (int)nbytes) != 1) {
		return EX_EIO;
	}
	hex_encode(raw, nbytes, out);
	return EX_OK;
}

void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	hex_encode(md, sizeof(md), out);
}

int crypto_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	/* Compare digests so the time taken says nothing about where they differ. */
	char ha[CRYPTO_SHA256_HEX_LEN + 1], hb[CRYPTO_SHA256_HEX_LEN + 1];

	crypto_sha256_hex(a, la, ha);
	crypto_sha256_hex(b, lb, hb);
	return CRYPTO_memcmp(ha, hb, CRYPTO_SHA256_HEX_LEN) == 0 && la == lb;
}

enum ex_status crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
				  unsigned char out[CRYPTO_HMAC_LEN])
{
	unsigned int n = 0;

	if (keylen > INT_MAX ||
	    HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &n) == NULL ||
	    n != CRYPTO_HMAC_LEN) {
		return EX_EINVAL;
	}
	return EX_OK;
}

static int crypto_is_space(char c)
{
	return c == ' ' || c == '\t';
}

int crypto_secret_next(const char **pos, const char **s, size_t *len)
{
	const char *p = *pos, *end;

	while (*p != '\0') {
		end = strchr(p, ',');
		if (end == NULL) {
			end = p + strlen(p);
		}
		*pos = *end == ',' ? end + 1 : end;
		while (p < end && crypto_is_space(*p)) {
			p++;
		}
		while (end > p && crypto_is_space(end[-1])) {
			end--;
		}
		if (end > p) {
			*s = p;
			*len = (size_t)(end - p);
			return 1;
		}
		p = *pos;
	}
	return 0;
}

enum ex_status crypto_b64url_encode(const void *data, size_t len, char *out, size_t outsize)
{
	const unsigned char *in = data;
	size_t i, o = 0;
	unsigned int v;

	if (outsize < (len * 4 + 2) / 3 + 1) {
		return EX_ETOOBIG;
	}
	for (i = 0; i < len; i += 3) {
		v = (unsigned int)in[i] << 16;
		v |= i + 1 < len ? (unsigned int)in[i + 1] << 8 : 0;
		v |= i + 2 < len ? in[i + 2] : 0;
		out[o++] = crypto_b64chars[(v >> 18) & 63];
		out[o++] = crypto_b64chars[(v >> 12) & 63];
		if (i + 1 < len) {
			out[o++] = crypto_b64chars[(v >> 6) & 63];
		}
		if (i + 2 < len) {
			out[o++] = crypto_b64chars[v & 63];
		}
	}
	out[o] = '\0';
	return EX_OK;
}

static int crypto_b64_value(char c)
{
	const char *p = c != '\0' ? strchr(crypto_b64chars, c) : NULL;

	return p != NULL ? (int)(p - crypto_b64chars) : -1;
}

enum ex_status crypto_b64url_decode(const char *in, void *out, size_t outsize, size_t *outlen)
{
	unsigned char *o = out;
	size_t len = strlen(in), i, n = 0;
	unsigned int acc = 0;
	int bits = 0, v;

	if (len % 4 == 1) {
		return EX_EINVAL;
	}
	for (i = 0; i < len; i++) {
		v = crypto_b64_value(in[i]);
		if (v < 0) {
			return EX_EINVAL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outsize) {
				return EX_ETOOBIG;
			}
			o[n++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = n;
	return EX_OK;
}

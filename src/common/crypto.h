/* crypto.h - the few primitives exportd needs, over OpenSSL's libcrypto. */
#ifndef EXPORTD_CRYPTO_H
#define EXPORTD_CRYPTO_H

#include <stddef.h>

#include "common/status.h"

#define CRYPTO_SHA256_HEX_LEN 64
#define CRYPTO_HMAC_LEN	      32 /* HMAC-SHA256 */

/* nbytes random bytes from the OS CSPRNG as lower-case hex; out has 2*nbytes+1. */
enum ex_status crypto_random_hex(char *out, size_t nbytes) EX_MUST_CHECK;
/* SHA-256 of data as 64 lower-case hex digits plus NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN + 1]);
/* Constant-time comparison of two strings' contents; lengths may differ. */
int crypto_equal(const char *a, const char *b);

/* HMAC-SHA256(key, msg) into out; EX_EINVAL if OpenSSL refuses (a key over INT_MAX). */
enum ex_status crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
				  unsigned char out[CRYPTO_HMAC_LEN]) EX_MUST_CHECK;

/* A list in one comma-separated string (mail.link_secrets, embed.secrets,
 * http.cors_origins): the next non-empty one at or after *pos, spaces and tabs
 * trimmed, as *s (not NUL-terminated) and *len; 0 at the end. */
int crypto_secret_next(const char **pos, const char **s, size_t *len);

/* base64url without padding; out gets a NUL-terminated string. */
enum ex_status crypto_b64url_encode(const void *data, size_t len, char *out,
				    size_t outsize) EX_MUST_CHECK;
/* Decodes into out (outsize bytes); *outlen = decoded length. EX_EINVAL on bad input. */
enum ex_status crypto_b64url_decode(const char *in, void *out, size_t outsize,
				    size_t *outlen) EX_MUST_CHECK;

#endif

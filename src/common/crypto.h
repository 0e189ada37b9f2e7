/* crypto.h - the few primitives exportd needs, over OpenSSL's libcrypto. */
#ifndef EXPORTD_CRYPTO_H
#define EXPORTD_CRYPTO_H

#include <stddef.h>

#include "common/status.h"

#define CRYPTO_SHA256_HEX_LEN 64

/* nbytes random bytes from the OS CSPRNG as lower-case hex; out has 2*nbytes+1. */
enum ex_status crypto_random_hex(char *out, size_t nbytes) EX_MUST_CHECK;
/* SHA-256 of data as 64 lower-case hex digits plus NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN + 1]);
/* Constant-time comparison of two strings' contents; lengths may differ. */
int crypto_equal(const char *a, const char *b);

/* base64url without padding; out gets a NUL-terminated string. */
enum ex_status crypto_b64url_encode(const void *data, size_t len, char *out,
				    size_t outsize) EX_MUST_CHECK;
/* Decodes into out (outsize bytes); *outlen = decoded length. EX_EINVAL on bad input. */
enum ex_status crypto_b64url_decode(const char *in, void *out, size_t outsize,
				    size_t *outlen) EX_MUST_CHECK;

#endif

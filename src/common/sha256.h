/* sha256.h - SHA-256 whose running state can be saved and loaded.
 *
 * EVP digests cannot be serialised, and an export's checksum must survive a
 * crash: the state at each checkpoint is stored with it (sha256_save /
 * sha256_load) and the resumed run goes on hashing from there.  Backed by
 * OpenSSL's SHA256_CTX (fast, hardware-accelerated).  Verified against the
 * NIST vectors and OpenSSL's one-shot digest in tests/unit/test_crypto.c.
 */
#ifndef EXPORTD_SHA256_H
#define EXPORTD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define SHA256_STATE_BYTES 128 /* room for OpenSSL's SHA256_CTX (112 bytes) */
#define SHA256_STATE_HEX   (2 * (SHA256_STATE_BYTES + 8))

struct sha256 {
	/* OpenSSL's SHA256_CTX, kept opaque so this header needs no OpenSSL. */
	_Alignas(8) unsigned char ctx[SHA256_STATE_BYTES];
	uint64_t bytes; /* total length so far */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* The digest as 64 lower-case hex digits; s is left unchanged. */
void sha256_hex(const struct sha256 *s, char out[65]);
/* out gets at most SHA256_STATE_HEX characters. */
void sha256_save(const struct sha256 *s, char out[SHA256_STATE_HEX + 1]);
/* EX_EINVAL when text is not a saved state. */
enum ex_status sha256_load(struct sha256 *s, const char *text) EX_MUST_CHECK;

#endif

/* sha256.h - SHA-256 (FIPS 180-4) whose running state can be saved.
 *
 * OpenSSL's EVP digests cannot be serialised, and an export's checksum must
 * survive a crash: the state at each checkpoint is stored with it
 * (sha256_save / sha256_load, 226 hex characters) and the resumed run goes
 * on hashing from there.  Verified against the NIST vectors and OpenSSL.
 */
#ifndef EXPORTD_SHA256_H
#define EXPORTD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define SHA256_STATE_HEX (2 * (8 * 4 + 8 + 64 + 1))

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;	   /* total length so far */
	uint8_t block[64]; /* pending input */
	uint8_t fill;	   /* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* The digest as 64 lower-case hex digits; s is left unchanged. */
void sha256_hex(const struct sha256 *s, char out[65]);
void sha256_save(const struct sha256 *s, char out[SHA256_STATE_HEX + 1]);
/* EX_EINVAL when text is not a saved state. */
enum ex_status sha256_load(struct sha256 *s, const char *text) EX_MUST_CHECK;

#endif

/* apikey.h - API key format: "exk_<12 hex id>_<64 hex secret>".
 *
 * The id is public (stored in clear, used to find the row, shown by
 * "apikey list"); only the SHA-256 of the secret is stored.  A presented
 * key is checked by comparing hashes in constant time.
 */
#ifndef EXPORTD_APIKEY_H
#define EXPORTD_APIKEY_H

#include "common/crypto.h"
#include "common/status.h"

#define APIKEY_ID_LEN	  12
#define APIKEY_SECRET_LEN 64
#define APIKEY_LEN	  (4 + APIKEY_ID_LEN + 1 + APIKEY_SECRET_LEN)

struct apikey {
	char id[APIKEY_ID_LEN + 1];
	char secret[APIKEY_SECRET_LEN + 1];
};

/* A fresh random key; text gets the full key (APIKEY_LEN + 1 bytes). */
enum ex_status apikey_generate(struct apikey *key, char text[APIKEY_LEN + 1]) EX_MUST_CHECK;
/* Split a presented key; EX_EINVAL if it is not shaped like one. */
enum ex_status apikey_parse(const char *text, struct apikey *key) EX_MUST_CHECK;
/* The stored form of the secret. */
void apikey_hash(const struct apikey *key, char out[CRYPTO_SHA256_HEX_LEN + 1]);
/* Does the key's secret match the stored hash?  Constant time. */
int apikey_matches(const struct apikey *key, const char *stored_hash);

#endif

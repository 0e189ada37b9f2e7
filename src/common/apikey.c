#include "common/apikey.h"

#include <stdio.h>
#include <string.h>

static int apikey_is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

enum ex_status apikey_generate(struct apikey *key, char text[APIKEY_LEN + 1])
{
	enum ex_status st;

	st = crypto_random_hex(key->id, APIKEY_ID_LEN / 2);
	if (st) {
		return st;
	}
	st = crypto_random_hex(key->secret, APIKEY_SECRET_LEN / 2);
	if (st) {
		return st;
	}
	snprintf(text, APIKEY_LEN + 1, "exk_%s_%s", key->id, key->secret);
	return EX_OK;
}

enum ex_status apikey_parse(const char *text, struct apikey *key)
{
	if (strlen(text) != APIKEY_LEN || strncmp(text, "exk_", 4) != 0 ||
	    text[4 + APIKEY_ID_LEN] != '_') {
		return EX_EINVAL;
	}
	if (!apikey_is_hex(text + 4, APIKEY_ID_LEN) ||
	    !apikey_is_hex(text + 5 + APIKEY_ID_LEN, APIKEY_SECRET_LEN)) {
		return EX_EINVAL;
	}
	memcpy(key->id, text + 4, APIKEY_ID_LEN);
	key->id[APIKEY_ID_LEN] = '\0';
	memcpy(key->secret, text + 5 + APIKEY_ID_LEN, APIKEY_SECRET_LEN);
	key->secret[APIKEY_SECRET_LEN] = '\0';
	return EX_OK;
}

void apikey_hash(const struct apikey *key, char out[CRYPTO_SHA256_HEX_LEN + 1])
{
	crypto_sha256_hex(key->secret, APIKEY_SECRET_LEN, out);
}

int apikey_matches(const struct apikey *key, const char *stored_hash)
{
	char hash[CRYPTO_SHA256_HEX_LEN + 1];

	apikey_hash(key, hash);
	return crypto_equal(hash, stored_hash);
}

/* signature.c - the Exportd-Signature header (see signature.h). */
#include "hook/signature.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/hex.h"

enum ex_status signature_header(const char *secret, long long t, const char *body, size_t len,
				char out[SIGNATURE_MAX])
{
	unsigned char mac[CRYPTO_HMAC_LEN];
	char prefix[24], hex[2 * CRYPTO_HMAC_LEN + 1];
	size_t plen;
	char *msg;
	enum ex_status st;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%lld.", t);
	if (len > ((size_t)-1) - plen) {
		return EX_EINVAL;
	}
	msg = malloc(plen + len + 1);
	if (msg == NULL) {
		return EX_ENOMEM;
	}
	memcpy(msg, prefix, plen);
	memcpy(msg + plen, body, len);
	st = crypto_hmac_sha256(secret, strlen(secret), msg, plen + len, mac);
	free(msg);
	if (st) {
		return st;
	}
	hex_encode(mac, sizeof(mac), hex);
	snprintf(out, SIGNATURE_MAX, "t=%lld,v1=%s", t, hex);
	return EX_OK;
}

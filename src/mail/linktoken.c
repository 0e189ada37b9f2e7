/* linktoken.c - signed, expiring download links.
 *
 * A token is "<expiry>.<sig>": expiry in canonical decimal (no sign, no
 * leading zeros, so each expiry has exactly one spelling) and sig the 43
 * base64url characters of an HMAC-SHA256.  Verification does the same work
 * whatever is wrong with a token: it computes the MAC under every secret
 * and compares all of them, and only then looks at the results, so neither
 * the answer nor the time taken says which part (or which secret) failed.
 */
#include "mail/linktoken.h"

#include <openssl/crypto.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/crypto.h"

#define LINKTOKEN_SIG_LEN    43 /* base64url of 32 bytes, unpadded */
#define LINKTOKEN_EXPIRY_MAX 19 /* digits of INT64_MAX */

/* One secret inside the comma-separated list: not NUL-terminated. */
struct linktoken_secret {
	const char *p;
	size_t len;
};

/* The next secret of the list (crypto_secret_next); 0 at the end. */
static int linktoken_next_secret(const char **pos, struct linktoken_secret *s)
{
	return crypto_secret_next(pos, &s->p, &s->len);
}

/* Digits only, no leading zero (but "0"), no overflow of time_t. */
static int linktoken_parse_expiry(const char *s, size_t len, time_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > LINKTOKEN_EXPIRY_MAX || (s[0] == '0' && len > 1)) {
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
		v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot wrap 64 bits */
	}
	if (v > INT64_MAX || (sizeof(time_t) < 8 && v > INT32_MAX)) {
		return 0;
	}
	*out = (time_t)v;
	return 1;
}

/* sig = base64url(HMAC-SHA256(secret, "exportd-link\n" job_id "\n" expiry)). */
static enum ex_status linktoken_mac(const struct linktoken_secret *s, const char *job_id,
				    const char *expiry, char sig[LINKTOKEN_SIG_LEN + 1])
{
	unsigned char md[CRYPTO_HMAC_LEN];
	struct buf msg;
	enum ex_status st;

	buf_init(&msg, 4096);
	st = buf_printf(&msg, "exportd-link\n%s\n%s", job_id, expiry);
	if (st) {
		goto out;
	}
	st = crypto_hmac_sha256(s->p, s->len, msg.data, msg.len, md);
	if (st) {
		goto out;
	}
	st = crypto_b64url_encode(md, sizeof(md), sig, LINKTOKEN_SIG_LEN + 1);
out:
	OPENSSL_cleanse(md, sizeof(md));
	buf_free(&msg);
	return st;
}

enum ex_status linktoken_sign(const char *secrets, const char *job_id, time_t expiry,
			      char out[LINKTOKEN_MAX])
{
	struct linktoken_secret s;
	char sig[LINKTOKEN_SIG_LEN + 1], num[32];
	enum ex_status st;
	int n;

	if (secrets == NULL || job_id == NULL || expiry < 0 ||
	    !linktoken_next_secret(&secrets, &s)) {
		return EX_EINVAL;
	}
	snprintf(num, sizeof(num), "%lld", (long long)expiry);
	st = linktoken_mac(&s, job_id, num, sig);
	if (st) {
		return st;
	}
	n = snprintf(out, LINKTOKEN_MAX, "%s.%s", num, sig);
	if (n < 0 || n >= LINKTOKEN_MAX) {
		return EX_ETOOBIG;
	}
	return EX_OK;
}

/* The signature part of token, copied into a fixed-size buffer so it can
 * always be compared in full; 0 if it has the wrong length. */
static int linktoken_split(const char *token, char expiry[LINKTOKEN_EXPIRY_MAX + 1],
			   char sig[LINKTOKEN_SIG_LEN + 1], time_t *when)
{
	const char *dot = strchr(token, '.');
	size_t elen = dot != NULL ? (size_t)(dot - token) : 0;
	int ok = dot != NULL && strlen(dot + 1) == LINKTOKEN_SIG_LEN;

	memset(sig, 0, LINKTOKEN_SIG_LEN + 1);
	if (ok) {
		memcpy(sig, dot + 1, LINKTOKEN_SIG_LEN);
	}
	ok = ok && linktoken_parse_expiry(token, elen, when);
	if (ok) {
		memcpy(expiry, token, elen);
		expiry[elen] = '\0';
	} else {
		/* Something to MAC all the same, so the work done is the same. */
		expiry[0] = '0';
		expiry[1] = '\0';
		*when = 0;
	}
	return ok;
}

enum linktoken_result linktoken_verify(const char *secrets, const char *job_id, const char *token,
				       time_t now)
{
	char expiry[LINKTOKEN_EXPIRY_MAX + 1], sig[LINKTOKEN_SIG_LEN + 1];
	char want[LINKTOKEN_SIG_LEN + 1];
	struct linktoken_secret s;
	const char *pos = secrets;
	time_t when = 0;
	int wellformed, genuine = 0;

	if (secrets == NULL || job_id == NULL || token == NULL) {
		return LINKTOKEN_INVALID;
	}
	wellformed = linktoken_split(token, expiry, sig, &when);
	while (linktoken_next_secret(&pos, &s)) {
		if (linktoken_mac(&s, job_id, expiry, want)) {
			continue;
		}
		/* No early exit: every secret costs the same comparison. */
		genuine |= CRYPTO_memcmp(want, sig, LINKTOKEN_SIG_LEN) == 0;
	}
	OPENSSL_cleanse(want, sizeof(want));
	if (!wellformed || !genuine) {
		return LINKTOKEN_INVALID;
	}
	return now >= when ? LINKTOKEN_EXPIRED : LINKTOKEN_VALID;
}

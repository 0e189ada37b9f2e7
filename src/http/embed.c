/* embed.c - signed embed tokens (see embed.h).
 *
 * The MAC covers "exe1." P, the bytes as sent, so the host application
 * never has to canonicalise anything: it encodes once and signs what it
 * encoded.  Verification computes the MAC under every secret and compares
 * each in full before looking at any result, whatever is wrong.
 */
#include "http/embed.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/utf8.h"
#include "mail/address.h"

#define EMBED_SIG_LEN	 43  /* base64url of 32 bytes, unpadded */
#define EMBED_PAYLOAD	 600 /* decoded payload bytes at most */
#define EMBED_EXPIRY_MAX 19

int embed_is_token(const char *s)
{
	return strncmp(s, EMBED_PREFIX, strlen(EMBED_PREFIX)) == 0;
}

/* base64url(HMAC(secret, signed)) into sig. */
static enum ex_status embed_mac(const char *secret, size_t len, const char *signed_part,
				size_t signed_len, char sig[EMBED_SIG_LEN + 1])
{
	unsigned char md[CRYPTO_HMAC_LEN];
	enum ex_status st;

	st = crypto_hmac_sha256(secret, len, signed_part, signed_len, md);
	if (st == EX_OK) {
		st = crypto_b64url_encode(md, sizeof(md), sig, EMBED_SIG_LEN + 1);
	}
	OPENSSL_cleanse(md, sizeof(md));
	return st;
}

/* Printable UTF-8 without controls, 1..size-1 bytes. */
static int embed_text_ok(const char *s, size_t len, size_t size)
{
	size_t i;

	if (len == 0 || len >= size || !utf8_valid(s, len)) {
		return 0;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			return 0;
		}
	}
	return 1;
}

/* Digits only, no leading zero, fits time_t. */
static int embed_parse_expiry(const char *s, size_t len, time_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > EMBED_EXPIRY_MAX || (s[0] == '0' && len > 1)) {
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX || (sizeof(time_t) < 8 && v > INT32_MAX)) {
		return 0;
	}
	*out = (time_t)v;
	return 1;
}

/* "workspace\nemail\nexpiry" into c; 0 if any part is wrong. */
static int embed_parse_payload(const char *p, size_t len, struct embed_claims *c)
{
	const char *nl1 = memchr(p, '\n', len), *nl2, *end = p + len;

	if (nl1 == NULL || (nl2 = memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1))) == NULL) {
		return 0;
	}
	if (!embed_text_ok(p, (size_t)(nl1 - p), sizeof(c->workspace)) ||
	    !embed_text_ok(nl1 + 1, (size_t)(nl2 - nl1 - 1), sizeof(c->email)) ||
	    !embed_parse_expiry(nl2 + 1, (size_t)(end - nl2 - 1), &c->expiry)) {
		return 0;
	}
	memcpy(c->workspace, p, (size_t)(nl1 - p));
	c->workspace[nl1 - p] = '\0';
	memcpy(c->email, nl1 + 1, (size_t)(nl2 - nl1 - 1));
	c->email[nl2 - nl1 - 1] = '\0';
	return address_valid(c->email);
}

enum ex_status embed_sign(const char *secrets, const char *workspace, const char *email,
			  time_t expiry, char *out, size_t outsize)
{
	char payload[EMBED_PAYLOAD + 1], enc[EMBED_TOKEN_MAX], sig[EMBED_SIG_LEN + 1];
	struct embed_claims c;
	const char *secret;
	size_t slen;
	enum ex_status st;
	int n;

	if (secrets == NULL || !crypto_secret_next(&secrets, &secret, &slen) || expiry < 0) {
		return EX_EINVAL;
	}
	n = snprintf(payload, sizeof(payload), "%s\n%s\n%lld", workspace, email, (long long)expiry);
	if (n < 0 || (size_t)n >= sizeof(payload) || !embed_parse_payload(payload, (size_t)n, &c)) {
		return EX_EINVAL;
	}
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the encoder terminates it */
	memcpy(enc, EMBED_PREFIX, strlen(EMBED_PREFIX));
	st = crypto_b64url_encode(payload, (size_t)n, enc + strlen(EMBED_PREFIX),
				  sizeof(enc) - strlen(EMBED_PREFIX));
	if (st) {
		return st;
	}
	st = embed_mac(secret, slen, enc, strlen(enc), sig);
	if (st) {
		return st;
	}
	n = snprintf(out, outsize, "%s.%s", enc, sig);
	return n < 0 || (size_t)n >= outsize ? EX_ETOOBIG : EX_OK;
}

/* Split token at its last dot: *signed_len bytes are signed, sig gets the
 * signature (zeros when its length is wrong, so it is still compared). */
static int embed_split(const char *token, size_t *signed_len, char sig[EMBED_SIG_LEN + 1])
{
	const char *dot = strrchr(token, '.');
	int ok = embed_is_token(token) && dot != NULL && dot > token + strlen(EMBED_PREFIX) &&
		 strlen(dot + 1) == EMBED_SIG_LEN;

	memset(sig, 0, EMBED_SIG_LEN + 1);
	*signed_len = ok ? (size_t)(dot - token) : strlen(token);
	if (ok) {
		memcpy(sig, dot + 1, EMBED_SIG_LEN);
	}
	return ok;
}

/* Decode the payload between the prefix and the signature. */
static int embed_decode(const char *token, size_t signed_len, struct embed_claims *c)
{
	char enc[EMBED_TOKEN_MAX], payload[EMBED_PAYLOAD];
	size_t plen = strlen(EMBED_PREFIX), n = 0;

	memcpy(enc, token + plen, signed_len - plen);
	enc[signed_len - plen] = '\0';
	if (crypto_b64url_decode(enc, payload, sizeof(payload), &n) != EX_OK) {
		return 0;
	}
	return embed_parse_payload(payload, n, c);
}

enum embed_result embed_verify(const char *secrets, const char *token, time_t now,
			       long long max_lifetime_s, struct embed_claims *c)
{
	char sig[EMBED_SIG_LEN + 1], want[EMBED_SIG_LEN + 1];
	const char *pos = secrets, *secret;
	size_t slen, signed_len;
	int wellformed, genuine = 0;

	if (secrets == NULL || token == NULL || strlen(token) >= EMBED_TOKEN_MAX) {
		return EMBED_INVALID;
	}
	wellformed = embed_split(token, &signed_len, sig);
	while (crypto_secret_next(&pos, &secret, &slen)) {
		if (embed_mac(secret, slen, token, signed_len, want)) {
			continue;
		}
		/* No early exit: every secret costs the same comparison. */
		genuine |= CRYPTO_memcmp(want, sig, EMBED_SIG_LEN) == 0;
	}
	OPENSSL_cleanse(want, sizeof(want));
	if (!wellformed || !genuine || !embed_decode(token, signed_len, c)) {
		return EMBED_INVALID;
	}
	if (now >= c->expiry) {
		return EMBED_EXPIRED;
	}
	return c->expiry - now > max_lifetime_s ? EMBED_TOO_LONG : EMBED_VALID;
}

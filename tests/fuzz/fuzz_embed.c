/* fuzz_embed.c - signed embed tokens (http/embed.h), the Authorization or
 * ?access_token= value a host page sends.
 *
 * Input: 8 bytes of "now", then secrets, token, workspace and email,
 * NUL-separated.  Properties: verification answers one of its four
 * results and fills claims that sign again to a valid token; a token
 * signed with the first secret is valid before its expiry (too long with
 * no lifetime allowed), expired from it on, and invalid with any one
 * character changed. */
#include "fuzz.h"
#include "http/embed.h"

#define FUZZ_EMBED_LIFETIME (1LL << 40)

static time_t fuzz_embed_now(struct fuzz_in *in)
{
	unsigned long long v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		v = v << 8 | fuzz_byte(in);
	}
	return (time_t)(v >> 1); /* never negative */
}

/* Sign, then check what verification makes of the token and of a copy with
 * one character changed (at the position pick chooses). */
static void fuzz_embed_roundtrip(const char *secrets, const char *workspace, const char *email,
				 time_t expiry, size_t pick)
{
	char token[EMBED_TOKEN_MAX], other[EMBED_TOKEN_MAX];
	struct embed_claims c;
	size_t len;

	if (embed_sign(secrets, workspace, email, expiry, token, sizeof(token)) != EX_OK) {
		return;
	}
	len = strlen(token);
	FUZZ_CHECK(embed_is_token(token) && len < EMBED_TOKEN_MAX);
	if (expiry > 0) {
		FUZZ_CHECK(embed_verify(secrets, token, expiry - 1, FUZZ_EMBED_LIFETIME, &c) ==
			   EMBED_VALID);
		FUZZ_CHECK(strcmp(c.workspace, workspace) == 0 && strcmp(c.email, email) == 0 &&
			   c.expiry == expiry);
		FUZZ_CHECK(embed_verify(secrets, token, expiry - 1, 0, &c) == EMBED_TOO_LONG);
	}
	FUZZ_CHECK(embed_verify(secrets, token, expiry, FUZZ_EMBED_LIFETIME, &c) == EMBED_EXPIRED);
	memcpy(other, token, len + 1);
	other[pick % len] = other[pick % len] == 'A' ? 'B' : 'A';
	FUZZ_CHECK(embed_verify(secrets, other, 0, FUZZ_EMBED_LIFETIME, &c) == EMBED_INVALID);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	time_t now = fuzz_embed_now(&in);
	char *secrets = fuzz_str(&in, NULL);
	char *token = fuzz_str(&in, NULL);
	char *workspace = fuzz_str(&in, NULL);
	char *email = fuzz_str(&in, NULL);
	struct embed_claims c;
	enum embed_result r = embed_verify(secrets, token, now, FUZZ_EMBED_LIFETIME, &c);

	FUZZ_CHECK(r == EMBED_VALID || r == EMBED_EXPIRED || r == EMBED_TOO_LONG ||
		   r == EMBED_INVALID);
	if (r == EMBED_VALID) {
		/* What a genuine token claims is what the signer accepts. */
		fuzz_embed_roundtrip(secrets, c.workspace, c.email, c.expiry, size);
	}
	fuzz_embed_roundtrip(secrets, workspace, email, now, size);
	free(secrets);
	free(token);
	free(workspace);
	free(email);
	return 0;
}

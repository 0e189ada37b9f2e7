/* fuzz_linktoken.c - signed download links (mail/linktoken.h).
 *
 * Input: 8 bytes of "now", then secrets, job id and token, NUL-separated.
 * Properties: verification answers one of its three results; a token
 * signed with the first secret is valid before its expiry, expired from it
 * on, and invalid for another job, with the other secrets alone or with
 * any one character of it changed. */
#include "fuzz.h"
#include "mail/linktoken.h"

static time_t fuzz_linktoken_now(struct fuzz_in *in)
{
	unsigned long long v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		v = v << 8 | fuzz_byte(in);
	}
	return (time_t)v;
}

/* Sign, then check what verification makes of the token and of a copy with
 * one character changed (at the position the input's length picks). */
static void fuzz_linktoken_roundtrip(const char *secrets, const char *job, time_t expiry,
				     size_t pick)
{
	char token[LINKTOKEN_MAX], other[LINKTOKEN_MAX];
	size_t len;

	if (linktoken_sign(secrets, job, expiry, token) != EX_OK) {
		return;
	}
	len = strlen(token);
	FUZZ_CHECK(len > 0 && len < LINKTOKEN_MAX);
	if (expiry > 0) {
		FUZZ_CHECK(linktoken_verify(secrets, job, token, expiry - 1) == LINKTOKEN_VALID);
	}
	FUZZ_CHECK(linktoken_verify(secrets, job, token, expiry) == LINKTOKEN_EXPIRED);
	snprintf(other, sizeof(other), "%s!", job);
	FUZZ_CHECK(linktoken_verify(secrets, other, token, 0) == LINKTOKEN_INVALID);
	memcpy(other, token, len + 1);
	other[pick % len] = other[pick % len] == 'A' ? 'B' : 'A';
	FUZZ_CHECK(linktoken_verify(secrets, job, other, 0) == LINKTOKEN_INVALID);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	time_t now = fuzz_linktoken_now(&in);
	char *secrets = fuzz_str(&in, NULL);
	char *job = fuzz_str(&in, NULL);
	char *token = fuzz_str(&in, NULL);
	enum linktoken_result r = linktoken_verify(secrets, job, token, now);

	FUZZ_CHECK(r == LINKTOKEN_VALID || r == LINKTOKEN_EXPIRED || r == LINKTOKEN_INVALID);
	if (strlen(job) < 64) {
		fuzz_linktoken_roundtrip(secrets, job, now, size);
	}
	free(secrets);
	free(job);
	free(token);
	return 0;
}

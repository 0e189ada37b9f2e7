/* embed.h - signed embed tokens: what a host application's own server code
 * mints so that its page can call the API for one user of one workspace
 * without an API key in the page.  Pure.
 *
 *	token = "exe1." P "." S
 *	P = base64url(workspace "\n" email "\n" expiry)	(no padding)
 *	S = base64url(HMAC-SHA256(secret, "exe1." P))	(no padding)
 *
 * expiry is unix seconds in canonical decimal.  Secrets are one
 * comma-separated string (embed.secrets): the first signs, any listed
 * verifies.  Verification is constant time over every secret, and a
 * token's payload is only read once its signature is genuine.
 */
#ifndef EXPORTD_EMBED_H
#define EXPORTD_EMBED_H

#include <stddef.h>
#include <time.h>

#include "common/status.h"

#define EMBED_PREFIX	"exe1."
#define EMBED_TOKEN_MAX 1024 /* longer is refused unread */

enum embed_result {
	EMBED_VALID,
	EMBED_EXPIRED,	/* genuine, but past its expiry */
	EMBED_TOO_LONG, /* genuine, but expires more than max_lifetime from now */
	EMBED_INVALID,	/* malformed, tampered, unknown secret, bad workspace or email */
};

struct embed_claims {
	char workspace[256];
	char email[256];
	time_t expiry;
};

/* 1 when s is meant as an embed token (it starts with EMBED_PREFIX). */
int embed_is_token(const char *s);

/* Sign with the first secret; EX_EINVAL without one or for a workspace or
 * email the verifier would refuse, EX_ETOOBIG when out is too small. */
enum ex_status embed_sign(const char *secrets, const char *workspace, const char *email,
			  time_t expiry, char *out, size_t outsize) EX_MUST_CHECK;

/* c is filled only for EMBED_VALID. */
enum embed_result embed_verify(const char *secrets, const char *token, time_t now,
			       long long max_lifetime_s, struct embed_claims *c);

#endif

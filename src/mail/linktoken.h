/* linktoken.h - signed, expiring download links.  Pure.
 *
 * token = "<expiry unix seconds>.<base64url HMAC-SHA256(secret,
 *          "exportd-link\n" job_id "\n" expiry)>".  Secrets are given as one
 * comma-separated string: the first signs, any listed verifies, so a secret
 * can be rotated by putting the new one first and dropping the old one once
 * its links have expired.  Comparisons are constant time.
 */
#ifndef EXPORTD_LINKTOKEN_H
#define EXPORTD_LINKTOKEN_H

#include <stddef.h>
#include <time.h>

#include "common/status.h"

#define LINKTOKEN_MAX 96

enum linktoken_result {
	LINKTOKEN_VALID,
	LINKTOKEN_EXPIRED, /* genuine, but past its expiry */
	LINKTOKEN_INVALID, /* malformed, tampered, other job, unknown secret */
};

/* Sign with the first secret in secrets; EX_EINVAL if there is none. */
enum ex_status linktoken_sign(const char *secrets, const char *job_id, time_t expiry,
			      char out[LINKTOKEN_MAX]) EX_MUST_CHECK;
enum linktoken_result linktoken_verify(const char *secrets, const char *job_id, const char *token,
				       time_t now);

#endif

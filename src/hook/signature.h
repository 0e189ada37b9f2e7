/* signature.h - the Exportd-Signature header of a webhook delivery:
 * "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" (the scheme
 * Stripe uses, so existing verification code ports).  Pure. */
#ifndef EXPORTD_SIGNATURE_H
#define EXPORTD_SIGNATURE_H

#include <stddef.h>

#include "common/status.h"

/* "t=" + 20 digits + ",v1=" + 64 hex + NUL, rounded up. */
#define SIGNATURE_MAX 96

/* The header value for body signed at t with secret into out.  EX_ENOMEM,
 * or EX_EINVAL when OpenSSL refuses. */
enum ex_status signature_header(const char *secret, long long t, const char *body, size_t len,
				char out[SIGNATURE_MAX]) EX_MUST_CHECK;

#endif

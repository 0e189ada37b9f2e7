/* sender.h - one webhook request: POST a signed JSON body to an endpoint
 * over libcurl, safely.
 *
 * The host is resolved here, every address checked (netaddr.h: loopback,
 * link-local and private ranges are refused unless webhooks.allow_private)
 * and the first allowed one pinned with CURLOPT_RESOLVE, so a DNS answer
 * that changes between the check and the connection cannot move the
 * request.  No redirect is followed, only http(s) is spoken, the whole
 * request has webhooks.timeout, and at most webhooks.response_max bytes of
 * the answer are read.  The secret is never logged or put in an error. */
#ifndef EXPORTD_SENDER_H
#define EXPORTD_SENDER_H

#include <stddef.h>

#include "common/buf.h"
#include "common/conf.h"

enum sender_outcome {
	SENDER_DELIVERED, /* 2xx */
	SENDER_RETRY,	  /* network error, timeout, 5xx, 408, 429 */
	SENDER_FINAL,	  /* any other answer, a refused or invalid target */
};

struct sender_result {
	enum sender_outcome outcome;
	int status;		  /* the HTTP status; 0: no answer */
	long long retry_after_ms; /* the answer's Retry-After; -1: none */
	char error[256];	  /* what went wrong ("" when delivered) */
};

/* Once per process, before the first sender_post(). */
void sender_global_init(void);

/* POST body (JSON) to url with the headers Exportd-Event-Id: event_id and
 * Exportd-Signature: signature.  The outcome is in *r; nothing fails. */
void sender_post(const struct config *cf, const char *url, const char *event_id,
		 const char *signature, const char *body, size_t len, struct sender_result *r);

#endif

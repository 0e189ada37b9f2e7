/* request.h - one FastCGI request: its CGI variables, body and response.
 *
 * Output goes through libfcgi, whose FCGX_FPrintF does not know %zu (the
 * output stops silently there), so sizes are printed as %lld.  All response
 * helpers are no-ops for the body of a HEAD request.
 */
#ifndef EXPORTD_REQUEST_H
#define EXPORTD_REQUEST_H

#include <fcgiapp.h>
#include <json-c/json.h>

#include "common/buf.h"
#include "common/status.h"

struct http_request {
	FCGX_Request *fcgi;
	const char *method;
	const char *uri;   /* raw REQUEST_URI, query included */
	const char *query; /* after '?', or "" */
	const char *content_type;
	const char *authorization;
	const char *range;
	const char *idempotency_key; /* NULL when the header is absent */
	long long content_length;    /* -1 when absent */
	int head;
	char id[17]; /* request id for logs and problem bodies */
};

void request_init(struct http_request *r, FCGX_Request *fcgi);

/* Read the body; EX_ETOOBIG past limit (checked on Content-Length first). */
enum ex_status request_read_body(struct http_request *r, long long limit,
				 struct buf *body) EX_MUST_CHECK;

/* Status line and headers; extra is "" or "Name: value\r\n" lines. */
void request_head(struct http_request *r, int status, const char *content_type, const char *extra);
void request_write(struct http_request *r, const void *data, size_t len);
/* Status, headers and a JSON body (body is not consumed). */
void request_send_json(struct http_request *r, int status, const char *extra,
		       struct json_object *body);

#endif

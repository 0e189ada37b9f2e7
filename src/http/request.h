/* request.h - one FastCGI request: its CGI variables, body and response.
 *
 * Output goes through libfcgi, whose FCGX_FPrintF does not know %zu (the
 * output stops silently there), so sizes are printed as %lld.  All response
 * helpers are no-ops for the body of a HEAD request.
 *
 * Reads from the FastCGI connection have deadlines, because anyone who can
 * connect to the socket can stall a process with one missing byte.  This
 * module owns SIGALRM for that: its handler is installed without
 * SA_RESTART, so a read still blocked at its deadline fails with EINTR,
 * and libfcgi then drops the connection (parameters) or reports a stream
 * error (body).
 */
#ifndef EXPORTD_REQUEST_H
#define EXPORTD_REQUEST_H

#include <fcgiapp.h>
#include <json-c/json.h>

#include "common/buf.h"
#include "common/status.h"

/* The listen socket spawn-fcgi hands over (FastCGI's FCGI_LISTENSOCK_FILENO,
 * which libfcgi does not install). */
#define REQUEST_LISTEN_FD 0

struct http_request {
	FCGX_Request *fcgi;
	const char *method;
	const char *uri;   /* raw REQUEST_URI, query included */
	const char *query; /* after '?', or "" */
	const char *content_type;
	const char *authorization;
	const char *range;
	const char *idempotency_key; /* NULL when the header is absent */
	const char *server_software; /* SERVER_SOFTWARE, or "" */
	const char *if_none_match;   /* NULL when the header is absent */
	const char *remote_user;     /* REMOTE_USER the web server set, or "" */
	const char *origin;	     /* Origin header, NULL when absent */
	const char *cors_origin;     /* set when origin is allowed: every answer names it */
	int same_origin_header;	     /* X-Exportd-Request was sent (a CORS preflight's proof) */
	long long content_length;    /* -1 when absent */
	long long body_timeout_ms;   /* request_read_body's deadline */
	int head;
	char id[17]; /* request id for logs and problem bodies */
};

/* Once, before request_accept: install the SIGALRM handler the deadlines
 * use and make the listen socket non-blocking.  EX_EINVAL when
 * REQUEST_LISTEN_FD is not a socket (not started by spawn-fcgi or a web
 * server), EX_EIO when the system refuses. */
enum ex_status request_deadlines_init(void) EX_MUST_CHECK;

/* Wait for the next request on the FastCGI listen socket (REQUEST_LISTEN_FD) and read
 * its parameters.  Its client gets timeout_ms from the moment the socket is
 * ready (processes that lose the race for a connection go back to waiting
 * at once: the socket is non-blocking); one that stalls is dropped and the
 * wait goes on, so a request only
 * comes back whole.  fcgi was set up with FCGX_InitRequest(fcgi,
 * REQUEST_LISTEN_FD, FCGI_FAIL_ACCEPT_ON_INTR).  EX_EIO when the
 * listen socket itself fails (the process should exit). */
enum ex_status request_accept(FCGX_Request *fcgi, long long timeout_ms) EX_MUST_CHECK;

/* End the request (flush its answer, close the connection), waiting at most
 * timeout_ms for the client. */
void request_finish(FCGX_Request *fcgi, long long timeout_ms);

/* After request_accept: the request's variables; body_timeout_ms is the
 * deadline request_read_body keeps. */
void request_init(struct http_request *r, FCGX_Request *fcgi, long long body_timeout_ms);

/* Read the whole body within r->body_timeout_ms.  EX_ETOOBIG past limit
 * (checked on Content-Length first), EX_EIO when the body has not arrived
 * by the deadline or the connection broke (answer 408), EX_ENOMEM. */
enum ex_status request_read_body(struct http_request *r, long long limit,
				 struct buf *body) EX_MUST_CHECK;

/* Status line and headers; extra is "" or "Name: value\r\n" lines. */
void request_head(struct http_request *r, int status, const char *content_type, const char *extra);
void request_write(struct http_request *r, const void *data, size_t len);
/* Status, headers and a JSON body (body is not consumed). */
void request_send_json(struct http_request *r, int status, const char *extra,
		       struct json_object *body);

#endif

#include "http/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

static const char *request_param(struct http_request *r, const char *name)
{
	const char *v = FCGX_GetParam(name, r->fcgi->envp);

	return v != NULL ? v : "";
}

void request_init(struct http_request *r, FCGX_Request *fcgi)
{
	const char *len, *q;
	char *end;
	enum ex_status st;

	memset(r, 0, sizeof(*r));
	r->fcgi = fcgi;
	r->method = request_param(r, "REQUEST_METHOD");
	r->uri = request_param(r, "REQUEST_URI");
	q = strchr(r->uri, '?');
	r->query = q != NULL ? q + 1 : "";
	r->content_type = request_param(r, "CONTENT_TYPE");
	r->authorization = request_param(r, "HTTP_AUTHORIZATION");
	r->range = FCGX_GetParam("HTTP_RANGE", fcgi->envp);
	r->idempotency_key = FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", fcgi->envp);
	r->head = strcmp(r->method, "HEAD") == 0;
	len = FCGX_GetParam("CONTENT_LENGTH", fcgi->envp);
	r->content_length = -1;
	if (len != NULL && len[0] != '\0') {
		r->content_length = strtoll(len, &end, 10);
		if (*end != '\0' || r->content_length < 0) {
			r->content_length = -1;
		}
	}
	st = crypto_random_hex(r->id, 8);
	if (st) {
		snprintf(r->id, sizeof(r->id), "-");
	}
}

enum ex_status request_read_body(struct http_request *r, long long limit, struct buf *body)
{
	char chunk[8192];
	int n;
	enum ex_status st;

	if (r->content_length > limit) {
		return EX_ETOOBIG;
	}
	while ((n = FCGX_GetStr(chunk, sizeof(chunk), r->fcgi->in)) > 0) {
		if ((long long)body->len + n > limit) {
			return EX_ETOOBIG;
		}
		st = buf_append(body, chunk, (size_t)n);
		if (st) {
			return EX_ENOMEM;
		}
	}
	return EX_OK;
}

static const char *request_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 206:
		return "Partial Content";
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Range Not Satisfiable";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

void request_head(struct http_request *r, int status, const char *content_type, const char *extra)
{
	FCGX_FPrintF(r->fcgi->out, "Status: %d %s\r\n", status, request_reason(status));
	if (content_type != NULL) {
		FCGX_FPrintF(r->fcgi->out, "Content-Type: %s\r\n", content_type);
	}
	FCGX_FPrintF(r->fcgi->out, "X-Request-Id: %s\r\n%s\r\n", r->id, extra);
}

void request_write(struct http_request *r, const void *data, size_t len)
{
	if (!r->head && len > 0) {
		FCGX_PutStr(data, (int)len, r->fcgi->out);
	}
}

void request_send_json(struct http_request *r, int status, const char *extra,
		       struct json_object *body)
{
	size_t len = 0;
	const char *text = json_object_to_json_string_length(
		body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char head[8192];
	int n;

	n = snprintf(head, sizeof(head), "Content-Length: %lld\r\n%s", (long long)len + 1, extra);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		head[0] = '\0';
	}
	request_head(r, status, status >= 400 ? "application/problem+json" : "application/json",
		     head);
	request_write(r, text, len);
	request_write(r, "\n", 1);
}

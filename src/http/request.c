/* request.c - one FastCGI request, and the deadlines of reading it (see
 * request.h). */
#include "http/request.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "common/crypto.h"
#include "common/log.h"

/* After a deadline, SIGALRM keeps coming at this interval: a signal that
 * lands between the check of request_expired and the read it guards would
 * otherwise be lost, and that read would block for as long as the client
 * likes. */
#define REQUEST_TICK_MS 100

static volatile sig_atomic_t request_expired;

static void request_on_alarm(int sig)
{
	(void)sig;
	request_expired = 1;
}

enum ex_status request_deadlines_init(void)
{
	struct sigaction sa;
	struct stat sb;
	int flags;

	if (fstat(REQUEST_LISTEN_FD, &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
		return EX_EINVAL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = request_on_alarm; /* no SA_RESTART: blocked reads fail */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0) {
		return EX_EIO;
	}
	/* Every process of the pool waits in poll() and wakes for each
	 * connection; accept() on a blocking socket would then keep all but
	 * one waiting inside libfcgi with their deadline running.  (Linux:
	 * the accepted connection does not inherit O_NONBLOCK.) */
	flags = fcntl(REQUEST_LISTEN_FD, F_GETFL);
	if (flags < 0 || fcntl(REQUEST_LISTEN_FD, F_SETFL, flags | O_NONBLOCK) != 0) {
		return EX_EIO;
	}
	return EX_OK;
}

static void request_ms(struct timeval *tv, long long ms)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000 * 1000);
}

/* SIGALRM after ms, then every interval_ms; ms 0 disarms.  Arming clears
 * request_expired. */
static void request_timer(long long ms, long long interval_ms)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	request_ms(&it.it_value, ms);
	request_ms(&it.it_interval, ms > 0 ? interval_ms : 0);
	if (ms > 0) {
		request_expired = 0;
	}
	/* Fails only for values out of range, which config bounds exclude. */
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

/* Wait until a connection may be pending; 0 yes, -1 the socket failed. */
static int request_wait_listener(void)
{
	struct pollfd pfd;
	int rc;

	do {
		pfd.fd = REQUEST_LISTEN_FD;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, -1);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0 || (pfd.revents & (POLLERR | POLLNVAL)) != 0) {
		return -1;
	}
	return 0;
}

void request_finish(FCGX_Request *fcgi, long long timeout_ms)
{
	/* libfcgi's close reads whatever the client still sends until it
	 * pauses for 2 s: a client sending a byte a second would keep the
	 * process here for ever. */
	request_timer(timeout_ms, REQUEST_TICK_MS);
	FCGX_Finish_r(fcgi);
	request_timer(0, 0);
}

/* Close the connection without a word (FCGX_Finish_r would end the
 * response: an empty answer). */
static void request_drop(FCGX_Request *fcgi)
{
	request_timer(REQUEST_TICK_MS, REQUEST_TICK_MS);
	FCGX_Free(fcgi, 1);
	request_timer(0, 0);
}

enum ex_status request_accept(FCGX_Request *fcgi, long long timeout_ms)
{
	int rc;

	for (;;) {
		if (request_wait_listener() != 0) {
			return EX_EIO;
		}
		/* The timer runs through libfcgi's accept() and its reads of
		 * the parameters.  Every interval it fails a read the client
		 * stalled: libfcgi closes that connection (and takes the next
		 * one waiting, or returns EAGAIN) or, see below, returns it. */
		request_timer(timeout_ms, timeout_ms);
		rc = FCGX_Accept_r(fcgi);
		request_timer(0, 0);
		if (rc >= 0 && FCGX_GetError(fcgi->in) == 0) {
			return EX_OK;
		}
		if (rc >= 0) {
			/* libfcgi takes parameters cut off by a failed read for
			 * all of them: drop the connection unanswered. */
			log_warn("dropped a FastCGI connection: its parameters did not arrive "
				 "within %lld ms",
				 timeout_ms);
			request_drop(fcgi);
			continue;
		}
		/* EAGAIN: another process took the connection; EINTR: the
		 * deadline ended a wait or a stalled client. */
		if (rc != -EINTR && rc != -EAGAIN && rc != -EWOULDBLOCK) {
			return EX_EIO;
		}
	}
}

static const char *request_param(struct http_request *r, const char *name)
{
	const char *v = FCGX_GetParam(name, r->fcgi->envp);

	return v != NULL ? v : "";
}

void request_init(struct http_request *r, FCGX_Request *fcgi, long long body_timeout_ms)
{
	const char *len, *q;
	char *end;
	enum ex_status st;

	memset(r, 0, sizeof(*r));
	r->fcgi = fcgi;
	r->body_timeout_ms = body_timeout_ms;
	r->method = request_param(r, "REQUEST_METHOD");
	r->uri = request_param(r, "REQUEST_URI");
	q = strchr(r->uri, '?');
	r->query = q != NULL ? q + 1 : "";
	r->content_type = request_param(r, "CONTENT_TYPE");
	r->authorization = request_param(r, "HTTP_AUTHORIZATION");
	r->range = FCGX_GetParam("HTTP_RANGE", fcgi->envp);
	r->idempotency_key = FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", fcgi->envp);
	r->server_software = request_param(r, "SERVER_SOFTWARE");
	r->if_none_match = FCGX_GetParam("HTTP_IF_NONE_MATCH", fcgi->envp);
	r->remote_user = request_param(r, "REMOTE_USER");
	r->origin = FCGX_GetParam("HTTP_ORIGIN", fcgi->envp);
	r->same_origin_header = FCGX_GetParam("HTTP_X_EXPORTD_REQUEST", fcgi->envp) != NULL;
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
	enum ex_status st = EX_OK;

	if (r->content_length > limit) {
		return EX_ETOOBIG;
	}
	/* One deadline for the whole body: a client sending a byte now and
	 * then must not keep the process for longer than that. */
	request_timer(r->body_timeout_ms, REQUEST_TICK_MS);
	while (!request_expired && (n = FCGX_GetStr(chunk, sizeof(chunk), r->fcgi->in)) > 0) {
		if ((long long)body->len + n > limit) {
			st = EX_ETOOBIG;
			goto out;
		}
		st = buf_append(body, chunk, (size_t)n);
		if (st) {
			st = EX_ENOMEM;
			goto out;
		}
	}
	if (request_expired || FCGX_GetError(r->fcgi->in) != 0) {
		st = EX_EIO;
	}
out:
	request_timer(0, 0);
	return st;
}

static const char *request_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
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
	if (r->cors_origin != NULL) {
		FCGX_FPrintF(r->fcgi->out,
			     "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
			     "Access-Control-Expose-Headers: Location, Retry-After, X-Request-Id, "
			     "Content-Disposition, Idempotent-Replayed\r\n",
			     r->cors_origin);
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

/* sender.c - one webhook request over libcurl (see sender.h). */
#include "hook/sender.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook/netaddr.h"

/* Where the URL points: its host (brackets stripped) and port. */
struct sender_target {
	char host[256];
	char port[8];
	char addr[INET6_ADDRSTRLEN];
	int literal; /* an IP address in the URL: nothing to resolve */
};

struct sender_sink {
	size_t got, cap;
};

void sender_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

__attribute__((format(printf, 3, 4))) static void
sender_fail(struct sender_result *r, enum sender_outcome o, const char *fmt, ...)
{
	va_list ap;

	r->outcome = o;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

/* Host and port of url; 0 when the URL is not one (checked at creation,
 * but a config change may have made it so). */
static int sender_parse(const char *url, struct sender_target *t)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	size_t len;
	int ok = 0;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		goto out;
	}
	len = strlen(host);
	t->literal = host[0] == '[';
	if (t->literal && len > 2) {
		memmove(host, host + 1, len - 2);
		host[len - 2] = '\0';
	}
	ok = strlen(host) < sizeof(t->host) && strlen(port) < sizeof(t->port);
	if (ok) {
		snprintf(t->host, sizeof(t->host), "%s", host);
		snprintf(t->port, sizeof(t->port), "%s", port);
	}
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ok;
}

/* Resolve t->host and pick the first address allowed into t->addr; the
 * outcome is set when none is. */
static int sender_resolve(const struct config *cf, struct sender_target *t, struct sender_result *r)
{
	struct addrinfo hints, *list = NULL, *ai;
	enum netaddr_class c = NETADDR_RESERVED;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(t->host, t->port, &hints, &list);
	if (rc != 0) {
		sender_fail(r, SENDER_RETRY, "cannot resolve the host: %s", gai_strerror(rc));
		return 0;
	}
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		c = netaddr_classify(ai->ai_addr);
		if (c == NETADDR_PUBLIC || (cf->webhooks_allow_private && c != NETADDR_RESERVED)) {
			break;
		}
	}
	if (ai != NULL) {
		getnameinfo(ai->ai_addr, ai->ai_addrlen, t->addr, sizeof(t->addr), NULL, 0,
			    NI_NUMERICHOST);
	} else {
		sender_fail(r, SENDER_FINAL,
			    "refused: the host resolves to a %s address (webhooks.allow_private "
			    "is off)",
			    netaddr_class_name(c));
	}
	freeaddrinfo(list);
	return ai != NULL;
}

/* Keep nothing of the answer, and stop reading it at the cap. */
static size_t sender_write(char *data, size_t size, size_t n, void *arg)
{
	struct sender_sink *s = arg;

	(void)data;
	s->got += size * n;
	return s->got > s->cap ? 0 : size * n;
}

static void sender_outcome(CURL *curl, CURLcode rc, const struct sender_sink *sink,
			   const char *errbuf, struct sender_result *r)
{
	long status = 0;
	curl_off_t after = -1;

	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	r->status = (int)status;
	if (status == 0 ||
	    (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && sink->got > sink->cap))) {
		sender_fail(r, SENDER_RETRY, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		r->status = 0;
		return;
	}
	if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0) {
		r->retry_after_ms = (long long)after * 1000;
	}
	if (status >= 200 && status < 300) {
		r->outcome = SENDER_DELIVERED;
		return;
	}
	snprintf(r->error, sizeof(r->error), "the endpoint answered %ld", status);
	r->outcome = status >= 500 || status == 408 || status == 429 ? SENDER_RETRY : SENDER_FINAL;
}

static struct curl_slist *sender_headers(const char *event_id, const char *signature)
{
	char line[160];
	struct curl_slist *h = NULL, *next;
	const char *fixed[] = {"Content-Type: application/json",
			       "Expect:", ("User-Agent: exportd/" PACKAGE_VERSION)};
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		next = curl_slist_append(h, fixed[i]);
		if (next == NULL) {
			goto fail;
		}
		h = next;
	}
	snprintf(line, sizeof(line), "Exportd-Event-Id: %s", event_id);
	next = curl_slist_append(h, line);
	if (next == NULL) {
		goto fail;
	}
	h = next;
	snprintf(line, sizeof(line), "Exportd-Signature: %s", signature);
	next = curl_slist_append(h, line);
	if (next == NULL) {
		goto fail;
	}
	return next;
fail:
	curl_slist_free_all(h);
	return NULL;
}

static void sender_perform(const struct config *cf, CURL *curl, const char *url,
			   struct curl_slist *headers, const char *body, size_t len,
			   struct sender_result *r)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct sender_sink sink = {0, (size_t)cf->webhooks_response_max};
	CURLcode rc;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)cf->webhooks_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)cf->webhooks_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sender_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	sender_outcome(curl, rc, &sink, errbuf, r);
}

void sender_post(const struct config *cf, const char *url, const char *event_id,
		 const char *signature, const char *body, size_t len, struct sender_result *r)
{
	struct sender_target t;
	struct curl_slist *headers = NULL, *pin = NULL;
	char entry[512];
	CURL *curl = NULL;

	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	memset(&t, 0, sizeof(t));
	if (!sender_parse(url, &t)) {
		sender_fail(r, SENDER_FINAL, "%s", "the endpoint URL is not valid");
		return;
	}
	if (!sender_resolve(cf, &t, r)) {
		return;
	}
	/* An IP address in the URL is not resolved by curl: nothing to pin. */
	snprintf(entry, sizeof(entry), "%s:%s:%s", t.host, t.port, t.addr);
	curl = curl_easy_init();
	headers = sender_headers(event_id, signature);
	pin = t.literal ? NULL : curl_slist_append(NULL, entry);
	if (curl == NULL || headers == NULL || (pin == NULL && !t.literal)) {
		sender_fail(r, SENDER_RETRY, "%s", "out of memory");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_RESOLVE, pin);
	sender_perform(cf, curl, url, headers, body, len, r);
out:
	curl_slist_free_all(pin);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
}

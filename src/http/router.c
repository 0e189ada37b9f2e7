#include "http/router.h"

#include <stdio.h>
#include <string.h>

#include "jobs/jobs.h"

struct router_entry {
	enum router_route route;
	const char *allow;
};

static const struct router_entry router_table[] = {
	[ROUTE_NONE] = {ROUTE_NONE, ""},
	[ROUTE_HEALTHZ] = {ROUTE_HEALTHZ, "GET, HEAD"},
	[ROUTE_EXPORTS] = {ROUTE_EXPORTS, "GET, HEAD, POST"},
	[ROUTE_EXPORT] = {ROUTE_EXPORT, "GET, HEAD, DELETE"},
	[ROUTE_DOWNLOAD] = {ROUTE_DOWNLOAD, "GET, HEAD"},
	[ROUTE_METRICS] = {ROUTE_METRICS, "GET, HEAD"},
};

/* Is method one of the comma-separated names in allow? */
static int router_allowed(const char *allow, const char *method)
{
	size_t n = strlen(method);
	const char *p = allow;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0')) {
			return 1;
		}
		p += n;
	}
	return 0;
}

/* Path (query removed, base stripped) -> route and id. */
static enum router_route router_path(const char *path, size_t len, char id[37])
{
	static const char exports[] = "/exports";
	const size_t elen = sizeof(exports) - 1;
	const char *rest;

	if (len == 8 && memcmp(path, "/healthz", 8) == 0) {
		return ROUTE_HEALTHZ;
	}
	if (len == 8 && memcmp(path, "/metrics", 8) == 0) {
		return ROUTE_METRICS;
	}
	if (len < elen || memcmp(path, exports, elen) != 0) {
		return ROUTE_NONE;
	}
	if (len == elen) {
		return ROUTE_EXPORTS;
	}
	if (path[elen] != '/' || len < elen + 1 + 36) {
		return ROUTE_NONE;
	}
	rest = path + elen + 1;
	memcpy(id, rest, 36);
	id[36] = '\0';
	if (!jobs_valid_id(id)) {
		return ROUTE_NONE;
	}
	len -= elen + 1 + 36;
	rest += 36;
	if (len == 0) {
		return ROUTE_EXPORT;
	}
	if (len == 9 && memcmp(rest, "/download", 9) == 0) {
		return ROUTE_DOWNLOAD;
	}
	return ROUTE_NONE;
}

void router_match(const char *method, const char *uri, const char *base_path,
		  struct router_match *m)
{
	size_t blen = strlen(base_path), len;
	const char *q;

	memset(m, 0, sizeof(*m));
	m->status = 404;
	if (strncmp(uri, base_path, blen) != 0) {
		return;
	}
	uri += blen;
	q = strchr(uri, '?');
	len = q != NULL ? (size_t)(q - uri) : strlen(uri);
	m->route = router_path(uri, len, m->id);
	if (m->route == ROUTE_NONE) {
		return;
	}
	m->allow = router_table[m->route].allow;
	m->status = router_allowed(m->allow, method) ? 0 : 405;
}

static int router_hex(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Decode [p, end) into out; -1 on a bad escape, an embedded NUL or overflow. */
static int router_decode(const char *p, const char *end, char *out, size_t outsize)
{
	size_t n = 0;
	int hi, lo;
	char c;

	for (; p < end; p++) {
		c = *p;
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (end - p < 3) {
				return -1;
			}
			hi = router_hex(p[1]);
			lo = router_hex(p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				return -1;
			}
			c = (char)(hi * 16 + lo);
			p += 2;
		}
		if (n + 1 >= outsize) {
			return -1;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return 1;
}

int router_query_get(const char *query, const char *name, char *out, size_t outsize)
{
	size_t nlen = strlen(name);
	const char *p = query, *amp, *end;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		end = amp != NULL ? amp : p + strlen(p);
		if ((size_t)(end - p) >= nlen && strncmp(p, name, nlen) == 0 &&
		    (p + nlen == end || p[nlen] == '=')) {
			p += nlen + (p + nlen < end);
			return router_decode(p, end, out, outsize);
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

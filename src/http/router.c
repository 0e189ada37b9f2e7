#include "http/router.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "jobs/jobs.h"

#define ROUTER_ID "{id}"
/* Longer than any method worth naming; anything longer is malformed. */
#define ROUTER_METHOD_MAX 32

static const struct {
	unsigned bit;
	const char *name;
} router_methods[] = {
	{ROUTER_GET, "GET"},
	{ROUTER_HEAD, "HEAD"},
	{ROUTER_POST, "POST"},
	{ROUTER_DELETE, "DELETE"},
};

static unsigned router_method_bit(const char *method)
{
	size_t i;

	for (i = 0; i < sizeof(router_methods) / sizeof(router_methods[0]); i++) {
		if (strcmp(method, router_methods[i].name) == 0) {
			return router_methods[i].bit;
		}
	}
	return 0;
}

/* An RFC 9110 method is a token: 1*tchar.  An empty or missing
 * REQUEST_METHOD (only a raw FastCGI client can send one) is not. */
static int router_method_valid(const char *method)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	const char *p;

	if (method == NULL || method[0] == '\0' || strlen(method) > ROUTER_METHOD_MAX) {
		return 0;
	}
	for (p = method; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr(tchar, *p) == NULL) {
			return 0;
		}
	}
	return 1;
}

/* "GET, HEAD, POST" for a mask, in the order of router_methods. */
static void router_allow_text(unsigned mask, char *out, size_t size)
{
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < sizeof(router_methods) / sizeof(router_methods[0]); i++) {
		if ((mask & router_methods[i].bit) == 0) {
			continue;
		}
		n = snprintf(out + used, size - used, "%s%s", used > 0 ? ", " : "",
			     router_methods[i].name);
		if (n < 0 || (size_t)n >= size - used) {
			return;
		}
		used += (size_t)n;
	}
}

/* Does path [p, p+len) match pattern?  A {id} segment takes a job id. */
static int router_path_matches(const char *pattern, const char *p, size_t len, char id[37])
{
	const char *hole = strstr(pattern, ROUTER_ID);
	size_t pre, post;

	if (hole == NULL) {
		return strlen(pattern) == len && memcmp(pattern, p, len) == 0;
	}
	pre = (size_t)(hole - pattern);
	post = strlen(hole + strlen(ROUTER_ID));
	if (len != pre + JOBS_ID_LEN + post || memcmp(pattern, p, pre) != 0 ||
	    memcmp(hole + strlen(ROUTER_ID), p + pre + JOBS_ID_LEN, post) != 0) {
		return 0;
	}
	memcpy(id, p + pre, JOBS_ID_LEN);
	id[JOBS_ID_LEN] = '\0';
	return jobs_valid_id(id);
}

void router_match(const struct router_route *table, size_t n, const char *method, const char *uri,
		  const char *base_path, struct router_match *m)
{
	size_t blen = strlen(base_path), len, i;
	unsigned bit, allowed = 0;
	const char *q;

	memset(m, 0, sizeof(*m));
	m->status = 400;
	if (!router_method_valid(method)) {
		return;
	}
	bit = router_method_bit(method);
	m->status = 404;
	if (strncmp(uri, base_path, blen) != 0) {
		return;
	}
	uri += blen;
	q = strchr(uri, '?');
	len = q != NULL ? (size_t)(q - uri) : strlen(uri);
	for (i = 0; i < n; i++) {
		if (!router_path_matches(table[i].path, uri, len, m->id)) {
			continue;
		}
		allowed |= table[i].methods;
		if ((table[i].methods & bit) != 0) {
			m->route = &table[i];
			m->status = 0;
			return;
		}
	}
	if (allowed != 0) {
		m->status = 405;
		router_allow_text(allowed, m->allow, sizeof(m->allow));
	}
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
			hi = hex_digit(p[1]);
			lo = hex_digit(p[2]);
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

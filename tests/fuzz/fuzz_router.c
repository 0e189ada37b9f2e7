/* fuzz_router.c - routing a request (http/router.h over the API's table in
 * http/routes.c) and reading a query string.
 *
 * Input: method, REQUEST_URI, base path, query string and a parameter name,
 * NUL-separated, then one byte for the size of the value's buffer.
 * Properties: the answer is one the dispatcher knows, strings in the match
 * are terminated inside their arrays, a found value fits its buffer. */
#include "fuzz.h"
#include "http/router.h"
#include "http/routes.h"

static void fuzz_router_match(const char *method, const char *uri, const char *base)
{
	struct router_match m;

	memset(&m, 0xa5, sizeof(m));
	router_match(routes_table, routes_count, method, uri, base, &m);
	FUZZ_CHECK(m.status == 0 || m.status == 400 || m.status == 404 || m.status == 405);
	FUZZ_CHECK((m.status == 0) == (m.route != NULL));
	FUZZ_CHECK(memchr(m.id, '\0', sizeof(m.id)) != NULL);
	if (m.status == 405) {
		FUZZ_CHECK(memchr(m.allow, '\0', sizeof(m.allow)) != NULL);
		FUZZ_CHECK(m.allow[0] != '\0');
	}
}

static void fuzz_router_query(const char *query, const char *name, size_t outsize)
{
	char out[256];
	int r;

	memset(out, 0xa5, sizeof(out));
	r = router_query_get(query, name, out, outsize);
	FUZZ_CHECK(r == -1 || r == 0 || r == 1);
	if (r == 1) {
		FUZZ_CHECK(memchr(out, '\0', outsize) != NULL);
	}
	/* Nothing written past the buffer the caller gave. */
	FUZZ_CHECK(outsize == sizeof(out) || (unsigned char)out[outsize] == 0xa5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	char *method = fuzz_str(&in, NULL);
	char *uri = fuzz_str(&in, NULL);
	char *base = fuzz_str(&in, NULL);
	char *query = fuzz_str(&in, NULL);
	char *name = fuzz_str(&in, NULL);
	size_t outsize = 1 + fuzz_byte(&in) % 255;

	fuzz_router_match(method, uri, base);
	fuzz_router_match(method[0] != '\0' ? method : NULL, uri, "");
	fuzz_router_query(query, name, outsize);
	free(method);
	free(uri);
	free(base);
	free(query);
	free(name);
	return 0;
}

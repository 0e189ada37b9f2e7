/* Router, query strings and Range parsing. */
#include "http/range.h"
#include "http/router.h"
#include "http/routes.h"
#include "unit.h"

#define ID "0b7e4a52-6a8e-4c3b-9d7e-2f1d9c3e8a10"

/* The API's own table (routes.c): the route each request reaches. */
static void test_routes(void)
{
	static const struct {
		const char *method, *uri, *base;
		const char *route; /* its name, NULL for 404 and 405 */
		int status;
	} cases[] = {
		{"GET", "/healthz", "", "healthz", 0},
		{"HEAD", "/healthz", "", "healthz", 0},
		{"POST", "/healthz", "", NULL, 405},
		{"GET", "/metrics", "", "metrics", 0},
		{"HEAD", "/metrics", "", "metrics", 0},
		{"GET", "/metrics?x=1", "", "metrics", 0},
		{"POST", "/metrics", "", NULL, 405},
		{"DELETE", "/metrics", "", NULL, 405},
		{"GET", "/api/metrics", "/api", "metrics", 0},
		{"GET", "/metrics", "/api", NULL, 404},
		{"GET", "/metrics/", "", NULL, 404},
		{"GET", "/metricsx", "", NULL, 404},
		{"GET", "/exports", "", "list", 0},
		{"HEAD", "/exports", "", "list", 0},
		{"POST", "/exports", "", "create", 0},
		{"POST", "/exports?x=1", "", "create", 0},
		{"PUT", "/exports", "", NULL, 405},
		{"GET", "/exports/" ID, "", "get", 0},
		{"DELETE", "/exports/" ID, "", "delete", 0},
		{"POST", "/exports/" ID, "", NULL, 405},
		{"GET", "/exports/" ID "/download", "", "download", 0},
		{"HEAD", "/exports/" ID "/download", "", "download", 0},
		{"GET", "/exports/" ID "/download?token=abc", "", "download", 0},
		{"DELETE", "/exports/" ID "/download", "", NULL, 405},
		{"GET", "/api/exports/" ID, "/api", "get", 0},
		{"GET", "/exports", "/api", NULL, 404},
		{"GET", "/exportsXYZ", "", NULL, 404},
		{"GET", "/exports/", "", NULL, 404},
		{"GET", "/exports/not-a-uuid", "", NULL, 404},
		{"GET", "/exports/0b7e4a52-6a8e-4c3b-9d7e-2f1d9c3e8a1z", "", NULL, 404},
		{"GET", "/exports/" ID "x", "", NULL, 404},
		{"GET", "/exports/" ID "/downloadx", "", NULL, 404},
		{"GET", "/exports/" ID "/", "", NULL, 404},
		{"GET", "/", "", NULL, 404},
		{"GET", "", "", NULL, 404},
		{"GET", "/exports/%30b7e4a52-6a8e-4c3b-9d7e-2f1d9c3e8a10", "", NULL, 404},
		{"get", "/exports", "", NULL, 405},
		/* A raw FastCGI client can send any REQUEST_METHOD, or none. */
		{"", "/exports", "", NULL, 400},
		{"", "/nowhere", "", NULL, 400},
		{"G ET", "/healthz", "", NULL, 400},
		{"GET\n", "/healthz", "", NULL, 400},
		{"GET/1", "/healthz", "", NULL, 400},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", "/healthz", "", NULL, 400},
		{"PATCH", "/healthz", "", NULL, 405},
	};
	struct router_match m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		router_match(routes_table, routes_count, cases[i].method, cases[i].uri,
			     cases[i].base, &m);
		if (!UNIT_EQ_STR(m.route != NULL ? m.route->name : "(none)",
				 cases[i].route != NULL ? cases[i].route : "(none)") ||
		    !UNIT_EQ_INT(m.status, cases[i].status)) {
			fprintf(stderr, "  case %lu: %s %s\n", (unsigned long)i, cases[i].method,
				cases[i].uri);
		}
	}
	router_match(routes_table, routes_count, NULL, "/healthz", "", &m);
	UNIT_EQ_INT(m.status, 400);
	router_match(routes_table, routes_count, "GET", "/exports/" ID "/download", "", &m);
	UNIT_EQ_STR(m.id, ID);
	UNIT_EQ_INT(m.route->access, ROUTER_KEY_OR_LINK);
	router_match(routes_table, routes_count, "PATCH", "/exports/" ID, "", &m);
	UNIT_EQ_STR(m.allow, "GET, HEAD, DELETE");
	router_match(routes_table, routes_count, "PUT", "/exports", "", &m);
	UNIT_EQ_STR(m.allow, "GET, HEAD, POST");
	router_match(routes_table, routes_count, "PUT", "/metrics", "", &m);
	UNIT_EQ_STR(m.allow, "GET, HEAD");
	router_match(routes_table, routes_count, "GET", "/metrics", "", &m);
	UNIT_EQ_INT(m.route->access, ROUTER_OPEN);
	router_match(routes_table, routes_count, "POST", "/exports", "", &m);
	UNIT_EQ_INT(m.route->access, ROUTER_KEY);
}

static void test_query(void)
{
	char v[16];

	UNIT_EQ_INT(router_query_get("limit=5&cursor=abc", "limit", v, sizeof(v)), 1);
	UNIT_EQ_STR(v, "5");
	UNIT_EQ_INT(router_query_get("limit=5&cursor=abc", "cursor", v, sizeof(v)), 1);
	UNIT_EQ_STR(v, "abc");
	UNIT_EQ_INT(router_query_get("xlimit=5", "limit", v, sizeof(v)), 0);
	UNIT_EQ_INT(router_query_get("", "limit", v, sizeof(v)), 0);
	UNIT_EQ_INT(router_query_get("a=%41+b%2f", "a", v, sizeof(v)), 1);
	UNIT_EQ_STR(v, "A b/");
	UNIT_EQ_INT(router_query_get("a=%4", "a", v, sizeof(v)), -1);
	UNIT_EQ_INT(router_query_get("a=%zz", "a", v, sizeof(v)), -1);
	UNIT_EQ_INT(router_query_get("a=%00", "a", v, sizeof(v)), -1);
	UNIT_EQ_INT(router_query_get("a=0123456789abcdefgh", "a", v, sizeof(v)), -1);
	UNIT_EQ_INT(router_query_get("a", "a", v, sizeof(v)), 1);
	UNIT_EQ_STR(v, "");
}

static void test_range(void)
{
	static const struct {
		const char *header;
		long long size;
		enum range_result result;
		long long start, end;
	} cases[] = {
		{NULL, 100, RANGE_NONE, 0, 0},
		{"bytes=0-9", 100, RANGE_OK, 0, 9},
		{"bytes=90-", 100, RANGE_OK, 90, 99},
		{"bytes=90-200", 100, RANGE_OK, 90, 99},
		{"bytes=-10", 100, RANGE_OK, 90, 99},
		{"bytes=-500", 100, RANGE_OK, 0, 99},
		{"bytes=100-", 100, RANGE_UNSATISFIABLE, 0, 0},
		{"bytes=-0", 100, RANGE_UNSATISFIABLE, 0, 0},
		{"bytes=0-0", 0, RANGE_UNSATISFIABLE, 0, 0},
		{"bytes=5-1", 100, RANGE_NONE, 0, 0},
		{"bytes=0-1,5-6", 100, RANGE_NONE, 0, 0},
		{"items=0-1", 100, RANGE_NONE, 0, 0},
		{"bytes=x-1", 100, RANGE_NONE, 0, 0},
		{"bytes=1-2x", 100, RANGE_NONE, 0, 0},
		{"bytes=-", 100, RANGE_NONE, 0, 0},
		{"bytes=99999999999999999999-", 100, RANGE_NONE, 0, 0},
	};
	long long start, end;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start = end = 0;
		if (!UNIT_EQ_INT(range_parse(cases[i].header, cases[i].size, &start, &end),
				 cases[i].result)) {
			fprintf(stderr, "  case %lu: %s\n", (unsigned long)i,
				cases[i].header ? cases[i].header : "(null)");
			continue;
		}
		if (cases[i].result == RANGE_OK) {
			UNIT_EQ_INT(start, cases[i].start);
			UNIT_EQ_INT(end, cases[i].end);
		}
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_routes),
		UNIT_TEST(test_query),
		UNIT_TEST(test_range),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}

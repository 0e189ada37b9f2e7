/* Router, query strings and Range parsing. */
#include "http/range.h"
#include "http/router.h"
#include "unit.h"

#define ID "0b7e4a52-6a8e-4c3b-9d7e-2f1d9c3e8a10"

static void test_routes(void)
{
	static const struct {
		const char *method, *uri, *base;
		enum router_route route;
		int status;
	} cases[] = {
		{"GET", "/healthz", "", ROUTE_HEALTHZ, 0},
		{"HEAD", "/healthz", "", ROUTE_HEALTHZ, 0},
		{"POST", "/healthz", "", ROUTE_HEALTHZ, 405},
		{"GET", "/metrics", "", ROUTE_METRICS, 0},
		{"HEAD", "/metrics", "", ROUTE_METRICS, 0},
		{"GET", "/metrics?x=1", "", ROUTE_METRICS, 0},
		{"POST", "/metrics", "", ROUTE_METRICS, 405},
		{"DELETE", "/metrics", "", ROUTE_METRICS, 405},
		{"GET", "/api/metrics", "/api", ROUTE_METRICS, 0},
		{"GET", "/metrics", "/api", ROUTE_NONE, 404},
		{"GET", "/metrics/", "", ROUTE_NONE, 404},
		{"GET", "/metricsx", "", ROUTE_NONE, 404},
		{"GET", "/exports", "", ROUTE_EXPORTS, 0},
		{"POST", "/exports", "", ROUTE_EXPORTS, 0},
		{"POST", "/exports?x=1", "", ROUTE_EXPORTS, 0},
		{"PUT", "/exports", "", ROUTE_EXPORTS, 405},
		{"GET", "/exports/" ID, "", ROUTE_EXPORT, 0},
		{"DELETE", "/exports/" ID, "", ROUTE_EXPORT, 0},
		{"POST", "/exports/" ID, "", ROUTE_EXPORT, 405},
		{"GET", "/exports/" ID "/download", "", ROUTE_DOWNLOAD, 0},
		{"GET", "/exports/" ID "/download?token=abc", "", ROUTE_DOWNLOAD, 0},
		{"DELETE", "/exports/" ID "/download", "", ROUTE_DOWNLOAD, 405},
		{"GET", "/api/exports/" ID, "/api", ROUTE_EXPORT, 0},
		{"GET", "/exports", "/api", ROUTE_NONE, 404},
		{"GET", "/exportsXYZ", "", ROUTE_NONE, 404},
		{"GET", "/exports/", "", ROUTE_NONE, 404},
		{"GET", "/exports/not-a-uuid", "", ROUTE_NONE, 404},
		{"GET", "/exports/0b7e4a52-6a8e-4c3b-9d7e-2f1d9c3e8a1z", "", ROUTE_NONE, 404},
		{"GET", "/exports/" ID "x", "", ROUTE_NONE, 404},
		{"GET", "/exports/" ID "/downloadx", "", ROUTE_NONE, 404},
		{"GET", "/exports/" ID "/", "", ROUTE_NONE, 404},
		{"GET", "/", "", ROUTE_NONE, 404},
		{"GET", "", "", ROUTE_NONE, 404},
		{"GET", "/exports/%30b7e4a52-6a8e-4c3b-9d7e-2f1d9c3e8a10", "", ROUTE_NONE, 404},
	};
	struct router_match m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		router_match(cases[i].method, cases[i].uri, cases[i].base, &m);
		if (!UNIT_EQ_INT(m.route, cases[i].route) ||
		    !UNIT_EQ_INT(m.status, cases[i].status)) {
			fprintf(stderr, "  case %lu: %s %s\n", (unsigned long)i, cases[i].method,
				cases[i].uri);
		}
	}
	router_match("GET", "/exports/" ID "/download", "", &m);
	UNIT_EQ_STR(m.id, ID);
	router_match("PATCH", "/exports/" ID, "", &m);
	UNIT_EQ_STR(m.allow, "GET, HEAD, DELETE");
	router_match("PUT", "/metrics", "", &m);
	UNIT_EQ_STR(m.allow, "GET, HEAD");
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

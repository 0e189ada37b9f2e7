/* test_cors.c - the origin allow-list (src/http/cors.c) and its config
 * check (http.cors_origins in src/common/conf.c). */
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "http/cors.h"
#include "unit.h"

static void test_cors_exact_match(void)
{
	const char *list = " https://app.example.com, http://127.0.0.1:8080 ,";

	UNIT_CHECK(cors_allowed(list, "https://app.example.com"));
	UNIT_CHECK(cors_allowed(list, "http://127.0.0.1:8080"));
	UNIT_CHECK(!cors_allowed(list, "https://app.example.com.evil.example"));
	UNIT_CHECK(!cors_allowed(list, "https://app.example.co"));
	UNIT_CHECK(!cors_allowed(list, "http://app.example.com"));
	UNIT_CHECK(!cors_allowed(list, "null"));
	UNIT_CHECK(!cors_allowed(list, ""));
	UNIT_CHECK(!cors_allowed(list, NULL));
	UNIT_CHECK(!cors_allowed("", "https://app.example.com"));
}

static void test_cors_config_check(void)
{
	static const struct {
		const char *value;
		int ok;
	} cases[] = {
		{"", 1},
		{"https://app.example.com", 1},
		{"https://a.example, http://localhost:3000", 1},
		{"*", 0},
		{"https://*.example.com", 0},
		{"https://app.example.com/", 0},
		{"https://app.example.com/path", 0},
		{"app.example.com", 0},
		{"https://user@app.example.com", 0},
	};
	struct config cf;
	struct buf err;
	size_t i;

	buf_init(&err, 4096);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("EXPORTD_HTTP_CORS_ORIGINS", cases[i].value, 1);
		buf_reset(&err);
		if (!UNIT_EQ_INT(conf_load(&cf, NULL, &err), cases[i].ok ? EX_OK : EX_EINVAL)) {
			fprintf(stderr, "  case %lu: %s\n", (unsigned long)i, buf_str(&err));
		}
		if (cases[i].ok) {
			conf_free(&cf);
		} else {
			UNIT_CHECK(strstr(buf_str(&err), "http.cors_origins") != NULL);
		}
	}
	unsetenv("EXPORTD_HTTP_CORS_ORIGINS");
	buf_free(&err);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_cors_exact_match),
		UNIT_TEST(test_cors_config_check),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}

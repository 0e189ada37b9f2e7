/* fuzz_conf.c - exportd.conf (common/conf.h), parsed from memory through
 * conf_load_text(), the function conf_load() reads the file with.
 *
 * Property: a configuration that loads prints (conf_dump) as text that loads
 * again and prints the same: every value the parser accepts has one
 * spelling the parser reads back as itself.  Secrets print masked, so the
 * reload gets them from the environment (EXPORTD_<SECTION>_<KEY>), as an
 * operator's deployment may. */
#include "common/conf.h"
#include "fuzz.h"

static const char *const fuzz_conf_secret_vars[] = {
	/* In the order of fuzz_conf_secrets_set's values. */
	"EXPORTD_DATABASE_URL",		"EXPORTD_DATABASE_API_URL",
	"EXPORTD_DATABASE_ADMIN_URL",	"EXPORTD_DATABASE_SESSION_URL",
	"EXPORTD_S3_SECRET_ACCESS_KEY", "EXPORTD_S3_SESSION_TOKEN",
	"EXPORTD_MAIL_PASSWORD",	"EXPORTD_MAIL_LINK_SECRETS",
	"EXPORTD_EMBED_SECRETS",	"EXPORTD_DATABASE_SOURCE_URL",
};
#define FUZZ_CONF_SECRETS (sizeof(fuzz_conf_secret_vars) / sizeof(fuzz_conf_secret_vars[0]))

/* The secrets' variables set to cf's values. */
static void fuzz_conf_secrets_set(const struct config *cf)
{
	const char *values[FUZZ_CONF_SECRETS] = {
		cf->db_url,	    cf->db_api_url,	      cf->db_admin_url,
		cf->db_session_url, cf->s3_secret_access_key, cf->s3_session_token,
		cf->mail_password,  cf->mail_link_secrets,    cf->embed_secrets,
		cf->db_source_url,
	};
	size_t i;

	for (i = 0; i < FUZZ_CONF_SECRETS; i++) {
		FUZZ_CHECK(setenv(fuzz_conf_secret_vars[i], values[i], 1) == 0);
	}
}

static void fuzz_conf_secrets_unset(void)
{
	size_t i;

	for (i = 0; i < FUZZ_CONF_SECRETS; i++) {
		FUZZ_CHECK(unsetenv(fuzz_conf_secret_vars[i]) == 0);
	}
}

static void fuzz_conf_dump(const struct config *cf, struct buf *out)
{
	enum ex_status st = conf_dump(cf, out);

	FUZZ_CHECK(st == EX_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size);
	struct config cf, again;
	struct buf err, dump, dump2;
	enum ex_status st;

	buf_init(&err, 1024);
	buf_init(&dump, 1 << 20);
	buf_init(&dump2, 1 << 20);
	st = conf_load_text(&cf, text, "fuzz.conf", &err);
	if (st) {
		FUZZ_CHECK(err.len > 0);
		goto out;
	}
	fuzz_conf_dump(&cf, &dump);
	fuzz_conf_secrets_set(&cf);
	conf_free(&cf);
	st = conf_load_text(&again, buf_str(&dump), "dump", &err);
	fuzz_conf_secrets_unset();
	if (st) {
		fprintf(stderr, "reloading the dump: %s\n%s", buf_str(&err), buf_str(&dump));
	}
	FUZZ_CHECK(st == EX_OK);
	fuzz_conf_dump(&again, &dump2);
	conf_free(&again);
	if (dump.len != dump2.len || memcmp(dump.data, dump2.data, dump.len) != 0) {
		fprintf(stderr, "first dump:\n%s\nsecond dump:\n%s", buf_str(&dump),
			buf_str(&dump2));
	}
	FUZZ_CHECK(dump.len == dump2.len && memcmp(dump.data, dump2.data, dump.len) == 0);
out:
	buf_free(&err);
	buf_free(&dump);
	buf_free(&dump2);
	free(text);
	return 0;
}

/* Config parser: defaults, types, units, env overrides, file:line errors. */
#include <stdlib.h>

#include "common/conf.h"
#include "unit.h"

static enum ex_status load(struct config *cf, const char *text, struct buf *err)
{
	buf_reset(err);
	return conf_load_text(cf, text, "test.conf", err);
}

static void test_defaults(void)
{
	struct config cf;
	struct buf err;

	buf_init(&err, 4096);
	if (!UNIT_EQ_INT(load(&cf, NULL, &err), EX_OK)) {
		return;
	}
	UNIT_EQ_INT(cf.workers, 2);
	UNIT_EQ_INT(cf.part_size, 8 * 1024 * 1024);
	UNIT_EQ_INT(cf.parts_in_flight, 2);
	UNIT_EQ_INT(cf.poll_interval_ms, 1500);
	UNIT_EQ_INT(cf.retention_ms, 7LL * 86400 * 1000);
	UNIT_EQ_INT(cf.csv_crlf, 1);
	UNIT_EQ_INT(cf.http_download, CONF_DOWNLOAD_STREAM);
	UNIT_EQ_STR(cf.http_base_path, "");
	UNIT_EQ_INT(cf.max_active_per_workspace, 10);
	UNIT_EQ_INT(cf.max_creates_per_hour_per_workspace, 100);
	UNIT_EQ_INT(cf.max_retained_files_per_workspace, 1000);
	UNIT_EQ_INT(cf.max_retained_bytes_per_workspace, 0);
	conf_free(&cf);
	buf_free(&err);
}

static void test_values(void)
{
	static const char text[] = "# comment\n"
				   "; another\n"
				   "[database]\n"
				   "url = \"host=/tmp port=5 dbname=x # not a comment\"\n"
				   "[http]\n"
				   "accel_prefix = \"/x;y#z\" ; quoted, then a comment\n"
				   "base_path = /api/   # trailing slash dropped\n"
				   "body_limit = 2k\n"
				   "download = x-sendfile\n"
				   "[exportd]\n"
				   "  workers=7\n"
				   "poll_interval = 2s\n"
				   "part_size = 1M\n"
				   "[storage]\n"
				   "dir = /var/tmp/x\n"
				   "file_mode = 0660\n"
				   "file_group = root\n"
				   "[export]\n"
				   "csv_line_ending = lf\n";
	struct config cf;
	struct buf err;

	buf_init(&err, 4096);
	if (!UNIT_EQ_INT(load(&cf, text, &err), EX_OK)) {
		fprintf(stderr, "%s\n", buf_str(&err));
		return;
	}
	UNIT_EQ_STR(cf.db_url, "host=/tmp port=5 dbname=x # not a comment");
	UNIT_EQ_STR(cf.http_base_path, "/api");
	UNIT_EQ_STR(cf.http_accel_prefix, "/x;y#z");
	UNIT_EQ_INT(cf.http_body_limit, 2048);
	UNIT_EQ_INT(cf.http_download, CONF_DOWNLOAD_XSENDFILE);
	UNIT_EQ_INT(cf.workers, 7);
	UNIT_EQ_INT(cf.poll_interval_ms, 2000);
	UNIT_EQ_INT(cf.part_size, 1024 * 1024);
	UNIT_EQ_STR(cf.storage_dir, "/var/tmp/x");
	UNIT_EQ_INT(cf.storage_file_mode, 0660);
	UNIT_EQ_INT(cf.storage_file_gid, 0);
	UNIT_EQ_INT(cf.csv_crlf, 0);
	conf_free(&cf);
	buf_free(&err);
}

static void test_errors_name_file_line(void)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{"[exportd]\nworkers = many\n", "test.conf:2: invalid value for exportd.workers"},
		{"[exportd]\n\nworkers = 0\n", "test.conf:3: invalid value for exportd.workers"},
		{"[exportd]\nnope = 1\n", "test.conf:2: unknown key 'nope' in section [exportd]"},
		{"workers = 1\n", "test.conf:1: unknown key 'workers' in section []"},
		{"[http]\ndownload = ftp\n", "test.conf:2: invalid value for http.download"},
		{"[exportd\n", "test.conf:1: syntax error"},
		{"just text\n", "test.conf:1: syntax error"},
		{"[exportd]\npart_size = 8X\n", "test.conf:2: invalid value for exportd.part_size"},
		{"[exportd]\nparts_in_flight = 9\n",
		 "test.conf:2: invalid value for exportd.parts_in_flight"},
		{"[exportd]\npoll_interval = 10\n",
		 "test.conf:2: invalid value for exportd.poll_interval"},
		{"[storage]\ndir = relative\n", "storage.dir: must be an absolute path"},
		{"[database]\nurl = \"unterminated\n", "test.conf:2: syntax error"},
		{"[database]\nurl = \"a\" b\n", "test.conf:2: syntax error"},
		{"[database]\nurl =\n", "database.url: empty"},
		{"[storage]\nfile_mode = 640\n", "invalid value for storage.file_mode"},
		{"[storage]\nfile_mode = 0700\n", "invalid value for storage.file_mode"},
		{"[storage]\nfile_mode = 0500\n", "invalid value for storage.file_mode"},
		{"[storage]\nfile_mode = 0648\n", "invalid value for storage.file_mode"},
		{"[storage]\nfile_group = no-such-group-here\n",
		 "storage.file_group: no group \"no-such-group-here\""},
	};
	struct config cf;
	struct buf err;
	size_t i;

	buf_init(&err, 4096);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		UNIT_EQ_INT(load(&cf, cases[i].text, &err), EX_EINVAL);
		if (!UNIT_CHECK(strstr(buf_str(&err), cases[i].message) != NULL)) {
			fprintf(stderr, "  case %lu: got \"%s\"\n", (unsigned long)i,
				buf_str(&err));
		}
	}
	buf_free(&err);
}

static void test_env_overrides(void)
{
	struct config cf;
	struct buf err;

	buf_init(&err, 4096);
	setenv("EXPORTD_EXPORTD_WORKERS", "9", 1);
	setenv("EXPORTD_DATABASE_URL", "dbname=fromenv", 1);
	if (UNIT_EQ_INT(load(&cf, "[exportd]\nworkers = 3\n", &err), EX_OK)) {
		UNIT_EQ_INT(cf.workers, 9);
		UNIT_EQ_STR(cf.db_url, "dbname=fromenv");
		conf_free(&cf);
	}
	setenv("EXPORTD_EXPORTD_WORKERS", "lots", 1);
	UNIT_EQ_INT(load(&cf, NULL, &err), EX_EINVAL);
	UNIT_CHECK(strstr(buf_str(&err), "environment EXPORTD_EXPORTD_WORKERS") != NULL);
	unsetenv("EXPORTD_EXPORTD_WORKERS");
	unsetenv("EXPORTD_DATABASE_URL");
	buf_free(&err);
}

/* One URL per program; api_url and admin_url fall back to url (also when
 * url comes from the environment), and are secrets like it. */
static void test_database_urls(void)
{
	struct config cf;
	struct buf err, out;

	buf_init(&err, 4096);
	buf_init(&out, 65536);
	setenv("EXPORTD_DATABASE_URL", "dbname=e user=w", 1);
	if (UNIT_EQ_INT(load(&cf, "[database]\nurl = dbname=x\n", &err), EX_OK)) {
		UNIT_EQ_STR(cf.db_api_url, "dbname=e user=w");
		UNIT_EQ_STR(cf.db_admin_url, "dbname=e user=w");
		conf_free(&cf);
	}
	unsetenv("EXPORTD_DATABASE_URL");
	if (UNIT_EQ_INT(load(&cf,
			     "[database]\nurl = dbname=e user=w\napi_url = dbname=e "
			     "user=a password=hunter2\nadmin_url = dbname=e user=o\n",
			     &err),
			EX_OK)) {
		UNIT_EQ_STR(cf.db_url, "dbname=e user=w");
		UNIT_EQ_STR(cf.db_api_url, "dbname=e user=a password=hunter2");
		UNIT_EQ_STR(cf.db_admin_url, "dbname=e user=o");
		UNIT_EQ_INT(conf_dump(&cf, &out), EX_OK);
		UNIT_CHECK(strstr(buf_str(&out), "hunter2") == NULL);
		UNIT_CHECK(strstr(buf_str(&out), "api_url = (set, not shown)") != NULL);
		conf_free(&cf);
	}
	buf_free(&out);
	buf_free(&err);
}

/* source_url (a standby) falls back to session_url, itself to url; with a
 * standby named, a job's wait for it must end before its lease does. */
static void test_source_url(void)
{
	struct config cf;
	struct buf err;

	buf_init(&err, 4096);
	if (UNIT_EQ_INT(load(&cf, "[database]\nurl = dbname=e\nsession_url = dbname=s\n", &err),
			EX_OK)) {
		UNIT_EQ_STR(cf.db_source_url, "dbname=s");
		UNIT_EQ_INT((int)cf.replica_max_wait_ms, 30000);
		UNIT_EQ_INT(cf.replica_fallback, CONF_REPLICA_PRIMARY);
		conf_free(&cf);
	}
	/* No standby: a short lease does not mind the (unused) wait. */
	if (UNIT_EQ_INT(load(&cf, "[exportd]\nlease_timeout = 2s\nheartbeat_interval = 1s\n", &err),
			EX_OK)) {
		UNIT_EQ_STR(cf.db_source_url, cf.db_url);
		conf_free(&cf);
	}
	UNIT_EQ_INT(load(&cf,
			 "[database]\nsource_url = host=standby\n[exportd]\nlease_timeout = 20s\n",
			 &err),
		    EX_EINVAL);
	UNIT_CHECK(strstr(buf_str(&err), "exportd.replica_max_wait: must be shorter") != NULL);
	if (UNIT_EQ_INT(load(&cf,
			     "[database]\nsource_url = host=standby\n[exportd]\nreplica_max_wait = "
			     "5s\nreplica_fallback = wait\nlease_timeout = 20s\n",
			     &err),
			EX_OK)) {
		UNIT_EQ_STR(cf.db_source_url, "host=standby");
		UNIT_EQ_INT(cf.replica_fallback, CONF_REPLICA_WAIT);
		conf_free(&cf);
	}
	buf_free(&err);
}

static void test_dump_hides_secrets(void)
{
	struct config cf;
	struct buf err, out;

	buf_init(&err, 4096);
	buf_init(&out, 65536);
	if (UNIT_EQ_INT(load(&cf, "[database]\nurl = password=hunter2\n", &err), EX_OK)) {
		UNIT_EQ_INT(conf_dump(&cf, &out), EX_OK);
		UNIT_CHECK(strstr(buf_str(&out), "hunter2") == NULL);
		UNIT_CHECK(strstr(buf_str(&out), "workers = 2") != NULL);
		conf_free(&cf);
	}
	buf_free(&out);
	buf_free(&err);
}

/* mail.link_secrets: each secret at least 32 bytes (finding 8: a 48-bit
 * example was accepted), split and trimmed as linktoken.c splits them; the
 * message names the key and the secret's position, never the secret. */
static void test_link_secrets_length(void)
{
	static const char s32[] = "0123456789abcdef0123456789abcdef";
	static const struct {
		const char *secrets, *smtp;
		const char *message; /* NULL: accepted */
	} cases[] = {
		{"6f1c0ed3a9b2", "", "mail.link_secrets: secret 1 is 12 bytes"},
		{"6f1c0ed3a9b2, 0b94d2e871c5", "", "mail.link_secrets: secret 1 is 12 bytes"},
		{"0123456789abcdef0123456789abcde", "", "secret 1 is 31 bytes"},
		{"0123456789abcdef0123456789abcdef, 0b94d2e871c5", "", "secret 2 is 12 bytes"},
		{"0123456789abcdef0123456789abcdef,,  short\t", "", "secret 2 is 5 bytes"},
		{" , ", "smtp://127.0.0.1:25", "mail.link_secrets: required"},
		{"0123456789abcdef0123456789abcdef", "", NULL},
		{" \t0123456789abcdef0123456789abcdef ,0123456789abcdef0123456789abcdefX ",
		 "smtp://127.0.0.1:25", NULL},
		{"", "", NULL},
	};
	struct config cf;
	struct buf err;
	size_t i;

	buf_init(&err, 4096);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("EXPORTD_MAIL_LINK_SECRETS", cases[i].secrets, 1);
		setenv("EXPORTD_MAIL_SMTP_URL", cases[i].smtp, 1);
		if (cases[i].message == NULL) {
			if (UNIT_EQ_INT(load(&cf, NULL, &err), EX_OK)) {
				conf_free(&cf);
			}
			continue;
		}
		UNIT_EQ_INT(load(&cf, NULL, &err), EX_EINVAL);
		if (!UNIT_CHECK(strstr(buf_str(&err), cases[i].message) != NULL)) {
			fprintf(stderr, "  case %lu: got \"%s\"\n", (unsigned long)i,
				buf_str(&err));
		}
		UNIT_CHECK(strstr(buf_str(&err), "6f1c0ed3a9b2") == NULL);
		UNIT_CHECK(strstr(buf_str(&err), "short") == NULL);
	}
	UNIT_EQ_INT(CONF_LINK_SECRET_MIN, (long long)sizeof(s32) - 1);
	unsetenv("EXPORTD_MAIL_LINK_SECRETS");
	unsetenv("EXPORTD_MAIL_SMTP_URL");
	buf_free(&err);
}

/* What config check prints reads back as the same values (found by
 * tests/fuzz/fuzz_conf.c). */
static void test_dump_reads_back(void)
{
	static const char text[] = "[http]\nbase_path = \"/api /\"\n"
				   "[s3]\nprefix = \"a #b \"\nregion = \" eu;1\"\n";
	struct config cf, again;
	struct buf err, out;

	buf_init(&err, 4096);
	buf_init(&out, 65536);
	if (UNIT_EQ_INT(load(&cf, text, &err), EX_OK)) {
		UNIT_EQ_STR(cf.http_base_path, "/api");
		UNIT_EQ_INT(conf_dump(&cf, &out), EX_OK);
		UNIT_CHECK(strstr(buf_str(&out), "prefix = \"a #b \"\n") != NULL);
		/* Secrets print masked: the reload gets a real one from outside. */
		setenv("EXPORTD_MAIL_LINK_SECRETS", "0123456789abcdef0123456789abcdef", 1);
		setenv("EXPORTD_EMBED_SECRETS", "0123456789abcdef0123456789abcdef", 1);
		if (UNIT_EQ_INT(load(&again, buf_str(&out), &err), EX_OK)) {
			UNIT_EQ_STR(again.http_base_path, "/api");
			UNIT_EQ_STR(again.s3_prefix, "a #b ");
			UNIT_EQ_STR(again.s3_region, " eu;1");
			conf_free(&again);
		}
		unsetenv("EXPORTD_EMBED_SECRETS");
		unsetenv("EXPORTD_MAIL_LINK_SECRETS");
		conf_free(&cf);
	}
	buf_free(&out);
	buf_free(&err);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_defaults),
		UNIT_TEST(test_values),
		UNIT_TEST(test_errors_name_file_line),
		UNIT_TEST(test_env_overrides),
		UNIT_TEST(test_database_urls),
		UNIT_TEST(test_source_url),
		UNIT_TEST(test_dump_hides_secrets),
		UNIT_TEST(test_link_secrets_length),
		UNIT_TEST(test_dump_reads_back),
	};

	unsetenv("EXPORTD_EXPORTD_WORKERS");
	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}

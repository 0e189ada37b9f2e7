#include "common/conf.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/log.h"

enum conf_type {
	CONF_STRING,
	CONF_INT,
	CONF_SIZE,
	CONF_DURATION,
	CONF_ENUM,
	CONF_MODE, /* octal file mode, "0640" */
};

/* Fields in the order a table row reads; 8 bytes of padding in a static table. */
/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding) */
struct conf_entry {
	const char *section;
	const char *key;
	enum conf_type type;
	size_t offset;
	const char *def;
	long long min, max;
	const char *const *choices; /* CONF_ENUM: NULL-terminated */
	int secret;
};

static const char *const conf_download_choices[] = {"stream", "x-sendfile", "x-accel-redirect",
						    NULL};
static const char *const conf_backend_choices[] = {"local", "s3", NULL};
static const char *const conf_addressing_choices[] = {"virtual", "path", NULL};
static const char *const conf_eol_choices[] = {"lf", "crlf", NULL};
static const char *const conf_level_choices[] = {"debug", "info", "warn", "error", NULL};
static const char *const conf_starttls_choices[] = {"try", "require", "never", NULL};
static const char *const conf_switch_choices[] = {"off", "on", NULL};
static const char *const conf_fallback_choices[] = {"primary", "wait", NULL};

#define KB     1024LL
#define MB     (1024LL * 1024)
#define GB     (1024LL * 1024 * 1024)
#define SEC    1000LL
#define DAY    (86400LL * 1000)
#define OFF(f) offsetof(struct config, f)

/* clang-format off */
static const struct conf_entry conf_table[] = {
	{"database", "url", CONF_STRING, OFF(db_url), "dbname=exportd", 0, 0, NULL, 1},
	{"database", "api_url", CONF_STRING, OFF(db_api_url), "", 0, 0, NULL, 1},
	{"database", "admin_url", CONF_STRING, OFF(db_admin_url), "", 0, 0, NULL, 1},
	{"database", "session_url", CONF_STRING, OFF(db_session_url), "", 0, 0, NULL, 1},
	{"database", "source_url", CONF_STRING, OFF(db_source_url), "", 0, 0, NULL, 1},
	{"http", "base_path", CONF_STRING, OFF(http_base_path), "", 0, 0, NULL, 0},
	{"http", "body_limit", CONF_SIZE, OFF(http_body_limit), "64k", 256, 16 * MB, NULL, 0},
	{"http", "body_timeout", CONF_DURATION, OFF(http_body_timeout_ms), "5s", 100, 3600 * SEC, NULL, 0},
	{"http", "download", CONF_ENUM, OFF(http_download), "stream", 0, 0, conf_download_choices, 0},
	{"http", "accel_prefix", CONF_STRING, OFF(http_accel_prefix), "/_exportd_files", 0, 0, NULL, 0},
	{"http", "cors_origins", CONF_STRING, OFF(http_cors_origins), "", 0, 0, NULL, 0},
	{"http", "stream_chunk", CONF_SIZE, OFF(http_stream_chunk), "64k", 4 * KB, 16 * MB, NULL, 0},
	{"exportd", "workers", CONF_INT, OFF(workers), "2", 1, 256, NULL, 0},
	{"exportd", "poll_interval", CONF_DURATION, OFF(poll_interval_ms), "1500ms", 50, 3600 * SEC, NULL, 0},
	{"exportd", "chunk_rows", CONF_INT, OFF(chunk_rows), "10000", 1, 1000000, NULL, 0},
	{"exportd", "part_size", CONF_SIZE, OFF(part_size), "8M", 64 * KB, 5 * GB, NULL, 0},
	{"exportd", "parts_in_flight", CONF_INT, OFF(parts_in_flight), "2", 1, CONF_MAX_PARTS_IN_FLIGHT, NULL, 0},
	{"exportd", "write_buffer", CONF_SIZE, OFF(write_buffer), "256k", 4 * KB, 64 * MB, NULL, 0},
	{"exportd", "max_row_size", CONF_SIZE, OFF(max_row_size), "16M", 1 * KB, 1 * GB, NULL, 0},
	{"exportd", "lease_timeout", CONF_DURATION, OFF(lease_timeout_ms), "60s", 1 * SEC, DAY, NULL, 0},
	{"exportd", "heartbeat_interval", CONF_DURATION, OFF(heartbeat_interval_ms), "10s", 100, DAY, NULL, 0},
	{"exportd", "max_attempts", CONF_INT, OFF(max_attempts), "5", 1, 1000, NULL, 0},
	{"exportd", "shutdown_grace", CONF_DURATION, OFF(shutdown_grace_ms), "10s", 0, 3600 * SEC, NULL, 0},
	{"exportd", "retry_base", CONF_DURATION, OFF(retry_base_ms), "5s", 10, DAY, NULL, 0},
	{"exportd", "retry_max", CONF_DURATION, OFF(retry_max_ms), "10m", 10, 30 * DAY, NULL, 0},
	{"exportd", "node_name", CONF_STRING, OFF(node_name), "", 0, 0, NULL, 0},
	{"exportd", "replica_max_wait", CONF_DURATION, OFF(replica_max_wait_ms), "30s", 0, DAY, NULL, 0},
	{"exportd", "replica_fallback", CONF_ENUM, OFF(replica_fallback), "primary", 0, 0, conf_fallback_choices, 0},
	{"storage", "backend", CONF_ENUM, OFF(storage_backend), "local", 0, 0, conf_backend_choices, 0},
	{"storage", "dir", CONF_STRING, OFF(storage_dir), "/var/lib/exportd/exports", 0, 0, NULL, 0},
	{"storage", "file_mode", CONF_MODE, OFF(storage_file_mode), "0640", 0600, 0666, NULL, 0},
	{"storage", "file_group", CONF_STRING, OFF(storage_file_group), "", 0, 0, NULL, 0},
	{"s3", "bucket", CONF_STRING, OFF(s3_bucket), "", 0, 0, NULL, 0},
	{"s3", "prefix", CONF_STRING, OFF(s3_prefix), "exports/", 0, 0, NULL, 0},
	{"s3", "region", CONF_STRING, OFF(s3_region), "us-east-1", 0, 0, NULL, 0},
	{"s3", "endpoint", CONF_STRING, OFF(s3_endpoint), "", 0, 0, NULL, 0},
	{"s3", "addressing", CONF_ENUM, OFF(s3_addressing), "virtual", 0, 0, conf_addressing_choices, 0},
	{"s3", "access_key_id", CONF_STRING, OFF(s3_access_key_id), "", 0, 0, NULL, 0},
	{"s3", "secret_access_key", CONF_STRING, OFF(s3_secret_access_key), "", 0, 0, NULL, 1},
	{"s3", "session_token", CONF_STRING, OFF(s3_session_token), "", 0, 0, NULL, 1},
	{"s3", "presign_ttl", CONF_DURATION, OFF(s3_presign_ttl_ms), "900s", 1 * SEC, 7 * DAY, NULL, 0},
	{"s3", "timeout", CONF_DURATION, OFF(s3_timeout_ms), "30s", 100, 3600 * SEC, NULL, 0},
	{"s3", "max_retries", CONF_INT, OFF(s3_max_retries), "5", 0, 100, NULL, 0},
	{"s3", "retry_base", CONF_DURATION, OFF(s3_retry_base_ms), "200ms", 1, 3600 * SEC, NULL, 0},
	{"export", "retention", CONF_DURATION, OFF(retention_ms), "7d", 60 * SEC, 3650 * DAY, NULL, 0},
	{"export", "csv_line_ending", CONF_ENUM, OFF(csv_crlf), "crlf", 0, 0, conf_eol_choices, 0},
	{"export", "gzip_level", CONF_INT, OFF(gzip_level), "6", 1, 9, NULL, 0},
	{"export", "zstd_level", CONF_INT, OFF(zstd_level), "3", 1, 19, NULL, 0},
	{"export", "work_dir", CONF_STRING, OFF(work_dir), "", 0, 0, NULL, 0},
	{"export", "max_rows", CONF_INT, OFF(max_rows), "0", 0, LLONG_MAX, NULL, 0},
	{"export", "max_bytes", CONF_SIZE, OFF(max_bytes), "0", 0, LLONG_MAX, NULL, 0},
	{"export", "max_active_per_workspace", CONF_INT, OFF(max_active_per_workspace), "10", 1, 100000, NULL, 0},
	{"export", "max_creates_per_hour_per_workspace", CONF_INT, OFF(max_creates_per_hour_per_workspace), "100", 0, 1000000, NULL, 0},
	{"export", "max_retained_files_per_workspace", CONF_INT, OFF(max_retained_files_per_workspace), "1000", 0, 10000000, NULL, 0},
	{"export", "max_retained_bytes_per_workspace", CONF_SIZE, OFF(max_retained_bytes_per_workspace), "0", 0, LLONG_MAX, NULL, 0},
	{"export", "cleanup_interval", CONF_DURATION, OFF(cleanup_interval_ms), "1m", 100, DAY, NULL, 0},
	{"export", "incremental_lag", CONF_DURATION, OFF(incremental_lag_ms), "1m", 0, DAY, NULL, 0},
	{"log", "level", CONF_ENUM, OFF(log_level), "info", 0, 0, conf_level_choices, 0},
	{"mail", "smtp_url", CONF_STRING, OFF(mail_smtp_url), "", 0, 0, NULL, 0},
	{"mail", "starttls", CONF_ENUM, OFF(mail_starttls), "try", 0, 0, conf_starttls_choices, 0},
	{"mail", "username", CONF_STRING, OFF(mail_username), "", 0, 0, NULL, 0},
	{"mail", "password", CONF_STRING, OFF(mail_password), "", 0, 0, NULL, 1},
	{"mail", "from_address", CONF_STRING, OFF(mail_from_address), "exportd@localhost", 0, 0, NULL, 0},
	{"mail", "from_name", CONF_STRING, OFF(mail_from_name), "exportd", 0, 0, NULL, 0},
	{"mail", "public_url", CONF_STRING, OFF(mail_public_url), "http://127.0.0.1:8080", 0, 0, NULL, 0},
	{"mail", "link_secrets", CONF_STRING, OFF(mail_link_secrets), "", 0, 0, NULL, 1},
	{"mail", "link_lifetime", CONF_DURATION, OFF(mail_link_lifetime_ms), "7d", 60 * SEC, 365 * DAY, NULL, 0},
	{"mail", "timeout", CONF_DURATION, OFF(mail_timeout_ms), "30s", 100, 3600 * SEC, NULL, 0},
	{"mail", "max_attempts", CONF_INT, OFF(mail_max_attempts), "10", 1, 1000, NULL, 0},
	{"mail", "retry_base", CONF_DURATION, OFF(mail_retry_base_ms), "10s", 10, DAY, NULL, 0},
	{"mail", "retry_max", CONF_DURATION, OFF(mail_retry_max_ms), "30m", 10, 30 * DAY, NULL, 0},
	{"mail", "poll_interval", CONF_DURATION, OFF(mail_poll_interval_ms), "2s", 50, 3600 * SEC, NULL, 0},
	{"webhooks", "allow_http", CONF_ENUM, OFF(webhooks_allow_http), "off", 0, 0, conf_switch_choices, 0},
	{"webhooks", "allow_private", CONF_ENUM, OFF(webhooks_allow_private), "off", 0, 0, conf_switch_choices, 0},
	{"webhooks", "timeout", CONF_DURATION, OFF(webhooks_timeout_ms), "10s", 100, 300 * SEC, NULL, 0},
	{"webhooks", "retry_base", CONF_DURATION, OFF(webhooks_retry_base_ms), "10s", 10, DAY, NULL, 0},
	{"webhooks", "retry_max", CONF_DURATION, OFF(webhooks_retry_max_ms), "1h", 10, 30 * DAY, NULL, 0},
	{"webhooks", "horizon", CONF_DURATION, OFF(webhooks_horizon_ms), "3d", SEC, 30 * DAY, NULL, 0},
	{"webhooks", "response_max", CONF_SIZE, OFF(webhooks_response_max), "4k", 0, 1 * MB, NULL, 0},
	{"webhooks", "poll_interval", CONF_DURATION, OFF(webhooks_poll_interval_ms), "2s", 50, 3600 * SEC, NULL, 0},
	{"webhooks", "max_per_workspace", CONF_INT, OFF(webhooks_max_per_workspace), "10", 1, 1000, NULL, 0},
	{"auth", "remote_user", CONF_ENUM, OFF(auth_remote_user), "off", 0, 0, conf_switch_choices, 0},
	{"embed", "secrets", CONF_STRING, OFF(embed_secrets), "", 0, 0, NULL, 1},
	{"embed", "max_lifetime", CONF_DURATION, OFF(embed_max_lifetime_ms), "12h", 60 * SEC, 7 * DAY, NULL, 0},
};
/* clang-format on */

#define CONF_NENTRIES (sizeof(conf_table) / sizeof(conf_table[0]))

static const struct conf_entry *conf_find(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < CONF_NENTRIES; i++) {
		if (strcmp(conf_table[i].section, section) == 0 &&
		    strcmp(conf_table[i].key, key) == 0) {
			return &conf_table[i];
		}
	}
	return NULL;
}

/* Parse "123", "64k", "8M", "1G" (sizes) or "500ms", "10s", "5m", "2h", "7d". */
static enum ex_status conf_parse_number(const char *value, enum conf_type type, long long *out)
{
	static const struct {
		const char *suffix;
		long long mult;
	} sizes[] = {{"", 1}, {"k", KB}, {"K", KB}, {"M", MB}, {"G", GB}},
	  durations[] = {{"ms", 1}, {"s", SEC}, {"m", 60 * SEC}, {"h", 3600 * SEC}, {"d", DAY}};
	char *end;
	long long n;
	size_t i;

	errno = 0;
	n = strtoll(value, &end, type == CONF_MODE ? 8 : 10);
	if (errno != 0 || end == value || n < 0) {
		return EX_EINVAL;
	}
	if (type == CONF_MODE) {
		*out = n;
		return *end == '\0' && value[0] == '0' ? EX_OK : EX_EINVAL;
	}
	if (type == CONF_INT) {
		*out = n;
		return *end == '\0' ? EX_OK : EX_EINVAL;
	}
	for (i = 0; type == CONF_SIZE && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (strcmp(end, sizes[i].suffix) == 0 && n <= LLONG_MAX / sizes[i].mult) {
			*out = n * sizes[i].mult;
			return EX_OK;
		}
	}
	for (i = 0; type == CONF_DURATION && i < sizeof(durations) / sizeof(durations[0]); i++) {
		if (strcmp(end, durations[i].suffix) == 0 && n <= LLONG_MAX / durations[i].mult) {
			*out = n * durations[i].mult;
			return EX_OK;
		}
	}
	return EX_EINVAL;
}

static enum ex_status conf_set_enum(const struct conf_entry *e, const char *value, int *field)
{
	int i;

	for (i = 0; e->choices[i] != NULL; i++) {
		if (strcmp(e->choices[i], value) == 0) {
			*field = i;
			return EX_OK;
		}
	}
	return EX_EINVAL;
}

static enum ex_status conf_set_string(const char *value, char **field)
{
	char *copy = strdup(value);

	if (copy == NULL) {
		return EX_ENOMEM;
	}
	free(*field);
	*field = copy;
	return EX_OK;
}

static void conf_describe_expected(const struct conf_entry *e, struct buf *err)
{
	int i;
	enum ex_status st = EX_OK;

	switch (e->type) {
	case CONF_ENUM:
		st = buf_puts(err, "one of:");
		if (st) {
			break;
		}
		for (i = 0; e->choices[i] != NULL; i++) {
			st = buf_printf(err, " %s", e->choices[i]);
			if (st) {
				break;
			}
		}
		break;
	case CONF_INT:
		st = buf_printf(err, "an integer from %lld to %lld", e->min, e->max);
		break;
	case CONF_SIZE:
		st = buf_printf(err, "a size from %lld to %lld bytes (suffix k, M, G)", e->min,
				e->max);
		break;
	case CONF_DURATION:
		st = buf_printf(err, "a duration from %lldms to %lldms (suffix ms, s, m, h, d)",
				e->min, e->max);
		break;
	case CONF_MODE:
		st = buf_printf(err, "an octal mode from 0%llo to 0%llo, written with a leading 0",
				e->min, e->max);
		break;
	case CONF_STRING:
		break;
	}
	(void)st; /* a truncated message is still a message */
}

/* "where: invalid value for section.key: expected ..." into err. */
static void conf_explain(const struct conf_entry *e, const char *where, struct buf *err)
{
	enum ex_status st;

	buf_reset(err);
	st = buf_printf(err, "%s: invalid value for %s.%s: expected ", where, e->section, e->key);
	if (st) {
		return; /* the message did not fit: leave what there is */
	}
	conf_describe_expected(e, err);
}

/* Set one key; on error write "where: message" into err. */
static enum ex_status conf_set(struct config *cf, const struct conf_entry *e, const char *value,
			       const char *where, struct buf *err)
{
	char *base = (char *)cf;
	long long n;
	enum ex_status st;

	if (e->type == CONF_STRING) {
		return conf_set_string(value, (char **)(void *)(base + e->offset));
	}
	if (e->type == CONF_ENUM) {
		st = conf_set_enum(e, value, (int *)(void *)(base + e->offset));
		goto out;
	}
	st = conf_parse_number(value, e->type, &n);
	if (st) {
		goto out;
	}
	if (n < e->min || n > e->max) {
		st = EX_EINVAL;
		goto out;
	}
	*(long long *)(void *)(base + e->offset) = n;
out:
	if (st) {
		conf_explain(e, where, err);
	}
	return st;
}

static char *conf_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s)) {
		s++;
	}
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1])) {
		*--end = '\0';
	}
	return s;
}

/* Unquote "..." values; cut a comment ('#' or ';' at the start or after
 * whitespace) after a bare value or after the closing quote. */
static enum ex_status conf_value(char *v)
{
	char *p, *close = NULL;

	if (v[0] == '"') {
		close = strchr(v + 1, '"');
		if (close == NULL) {
			return EX_EINVAL;
		}
	}
	for (p = close != NULL ? close + 1 : v; *p != '\0'; p++) {
		if ((*p == '#' || *p == ';') && (p == v || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	if (close != NULL) {
		if (*conf_trim(close + 1) != '\0') {
			return EX_EINVAL;
		}
		memmove(v, v + 1, (size_t)(close - v - 1));
		v[close - v - 1] = '\0';
		return EX_OK;
	}
	conf_trim(v);
	return EX_OK;
}

static enum ex_status conf_line(struct config *cf, char *line, char *section, size_t section_size,
				const char *where, struct buf *err)
{
	char *s = conf_trim(line), *eq, *key, *value;
	const struct conf_entry *e;
	size_t len = strlen(s);

	if (len == 0 || s[0] == '#' || s[0] == ';') {
		return EX_OK;
	}
	if (s[0] == '[') {
		if (s[len - 1] != ']' || len - 2 >= section_size || len < 3) {
			goto bad;
		}
		memcpy(section, s + 1, len - 2);
		section[len - 2] = '\0';
		conf_trim(section);
		return EX_OK;
	}
	eq = strchr(s, '=');
	if (eq == NULL) {
		goto bad;
	}
	*eq = '\0';
	key = conf_trim(s);
	value = conf_trim(eq + 1);
	if (conf_value(value) != EX_OK) {
		goto bad;
	}
	e = conf_find(section, key);
	if (e == NULL) {
		buf_msg(err, "%s: unknown key '%s' in section [%s]", where, key, section);
		return EX_EINVAL;
	}
	return conf_set(cf, e, value, where, err);
bad:
	buf_msg(err, "%s: syntax error: expected [section], key = value or a comment", where);
	return EX_EINVAL;
}

static enum ex_status conf_defaults(struct config *cf, struct buf *err)
{
	size_t i;
	enum ex_status st;

	memset(cf, 0, sizeof(*cf));
	for (i = 0; i < CONF_NENTRIES; i++) {
		st = conf_set(cf, &conf_table[i], conf_table[i].def, "default", err);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

static enum ex_status conf_parse_text(struct config *cf, const char *text, const char *name,
				      struct buf *err)
{
	char section[64] = "", where[512];
	const char *p = text, *nl;
	char *line = NULL;
	int lineno = 0;
	enum ex_status st;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		lineno++;
		line = strndup(p, len);
		if (line == NULL) {
			return EX_ENOMEM;
		}
		snprintf(where, sizeof(where), "%s:%d", name, lineno);
		st = conf_line(cf, line, section, sizeof(section), where, err);
		free(line);
		if (st) {
			return st;
		}
		p += len + (nl != NULL);
	}
	return EX_OK;
}

static enum ex_status conf_env_name(const struct conf_entry *e, char *out, size_t size)
{
	size_t i;
	int n = snprintf(out, size, "EXPORTD_%s_%s", e->section, e->key);

	if (n < 0 || (size_t)n >= size) {
		return EX_ETOOBIG;
	}
	for (i = 0; out[i] != '\0'; i++) {
		out[i] = (char)toupper((unsigned char)out[i]);
	}
	return EX_OK;
}

static enum ex_status conf_apply_env(struct config *cf, struct buf *err)
{
	char name[128], where[160];
	const char *value;
	size_t i;
	enum ex_status st;

	for (i = 0; i < CONF_NENTRIES; i++) {
		st = conf_env_name(&conf_table[i], name, sizeof(name));
		if (st) {
			return st;
		}
		value = getenv(name);
		if (value == NULL) {
			continue;
		}
		snprintf(where, sizeof(where), "environment %s", name);
		st = conf_set(cf, &conf_table[i], value, where, err);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

/* AWS_* variables fill in credentials the file and EXPORTD_S3_* left empty. */
static enum ex_status conf_s3_from_aws_env(struct config *cf)
{
	static const struct {
		const char *env;
		size_t offset;
	} vars[] = {
		{"AWS_ACCESS_KEY_ID", OFF(s3_access_key_id)},
		{"AWS_SECRET_ACCESS_KEY", OFF(s3_secret_access_key)},
		{"AWS_SESSION_TOKEN", OFF(s3_session_token)},
	};
	char **field;
	const char *v;
	size_t i;
	enum ex_status st;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		field = (char **)(void *)((char *)cf + vars[i].offset);
		v = getenv(vars[i].env);
		if ((*field)[0] != '\0' || v == NULL) {
			continue;
		}
		st = conf_set_string(v, field);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

static enum ex_status conf_check_s3(struct config *cf, struct buf *err)
{
	enum ex_status st;

	st = conf_s3_from_aws_env(cf);
	if (st) {
		return st;
	}
	if (cf->s3_bucket[0] == '\0') {
		buf_msg(err, "%s", "s3.bucket: required with storage.backend = s3");
		return EX_EINVAL;
	}
	if (cf->s3_access_key_id[0] == '\0' || cf->s3_secret_access_key[0] == '\0') {
		buf_msg(err, "%s",
			"s3.access_key_id / s3.secret_access_key: required with storage.backend = "
			"s3"
			" (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)");
		return EX_EINVAL;
	}
	if (cf->part_size < 5LL * 1024 * 1024) {
		buf_msg(err, "%s", "exportd.part_size: S3 parts must be at least 5M");
		return EX_EINVAL;
	}
	/* A worker blocked in one request cannot renew its lease. */
	if (cf->s3_timeout_ms * 2 > cf->lease_timeout_ms) {
		buf_msg(err, "%s",
			"s3.timeout: must be at most half of exportd.lease_timeout (a worker "
			"waiting on S3 cannot renew its lease)");
		return EX_EINVAL;
	}
	return EX_OK;
}

/* Each of a secret list's comma-separated secrets (mail.link_secrets,
 * embed.secrets; read by crypto_secret_next as the verifiers read them)
 * must have CONF_LINK_SECRET_MIN bytes: a short one can be guessed offline
 * from one mailed link or one page's token.  *count: how many there are.
 * The message never shows a secret, only its position and length. */
static enum ex_status conf_check_secrets(const char *name, const char *list, int *count,
					 struct buf *err)
{
	const char *pos = list, *s;
	size_t len;

	*count = 0;
	while (crypto_secret_next(&pos, &s, &len)) {
		++*count;
		if (len < CONF_LINK_SECRET_MIN) {
			buf_msg(err,
				"%s: secret %d is %ld bytes, fewer than %d "
				"(make one with: openssl rand -hex 32)",
				name, *count, (long)len, CONF_LINK_SECRET_MIN);
			return EX_EINVAL;
		}
	}
	return EX_OK;
}

/* One entry of http.cors_origins: scheme "://" host [":" port], nothing
 * after, no user info, no wildcard (every answer names the one origin). */
static int conf_is_origin(const char *s, size_t len)
{
	size_t skip = 0, i;

	if (len > 8 && memcmp(s, "https://", 8) == 0) {
		skip = 8;
	} else if (len > 7 && memcmp(s, "http://", 7) == 0) {
		skip = 7;
	} else {
		return 0;
	}
	for (i = skip; i < len; i++) {
		if (strchr("/?#@*\\ ", s[i]) != NULL) {
			return 0;
		}
	}
	return 1;
}

/* http.cors_origins: comma-separated, split as crypto_secret_next splits
 * a secret list (http/cors.c reads it the same way). */
static enum ex_status conf_check_origins(const char *list, struct buf *err)
{
	const char *pos = list, *s;
	size_t len;

	while (crypto_secret_next(&pos, &s, &len)) {
		if (!conf_is_origin(s, len)) {
			buf_msg(err,
				"http.cors_origins: \"%.*s\" is not an origin "
				"(scheme://host[:port], nothing after, no wildcard)",
				(int)len, s);
			return EX_EINVAL;
		}
	}
	return EX_OK;
}

/* database.api_url, admin_url and session_url default to database.url: one
 * URL serves all three programs until the operator gives each its own role
 * (or puts a transaction pooler in front of url).  source_url defaults to
 * session_url: the rows are read on a session-bound connection (a named
 * prepared statement) from the primary until a standby is named. */
static enum ex_status conf_database_urls(struct config *cf)
{
	enum ex_status st;

	if (cf->db_api_url[0] == '\0') {
		st = conf_set_string(cf->db_url, &cf->db_api_url);
		if (st) {
			return st;
		}
	}
	if (cf->db_session_url[0] == '\0') {
		st = conf_set_string(cf->db_url, &cf->db_session_url);
		if (st) {
			return st;
		}
	}
	if (cf->db_source_url[0] == '\0') {
		st = conf_set_string(cf->db_session_url, &cf->db_source_url);
		if (st) {
			return st;
		}
	}
	if (cf->db_admin_url[0] == '\0') {
		return conf_set_string(cf->db_url, &cf->db_admin_url);
	}
	return EX_OK;
}

/* storage.file_group names a group of this machine (resolved once: every
 * export file gets it). */
static enum ex_status conf_check_file_group(struct config *cf, struct buf *err)
{
	struct group *g;

	cf->storage_file_gid = -1;
	if (cf->storage_file_group[0] == '\0') {
		return EX_OK;
	}
	errno = 0;
	g = getgrnam(cf->storage_file_group);
	if (g == NULL) {
		buf_msg(err, "storage.file_group: no group \"%s\" on this machine",
			cf->storage_file_group);
		return EX_EINVAL;
	}
	cf->storage_file_gid = (long long)g->gr_gid;
	return EX_OK;
}

/* exportd.node_name: the host name when empty; a label value in /metrics
 * and a key of exportd_workers, so letters, digits, '.', '_', '-' only. */
static enum ex_status conf_check_node(struct config *cf, struct buf *err)
{
	char host[256] = "";
	size_t i, len;

	if (cf->node_name[0] == '\0') {
		if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
			snprintf(host, sizeof(host), "localhost");
		}
		if (conf_set_string(host, &cf->node_name) != EX_OK) {
			return EX_ENOMEM;
		}
	}
	len = strlen(cf->node_name);
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)cf->node_name[i]) &&
		    strchr("._-", cf->node_name[i]) == NULL) {
			break;
		}
	}
	if (len > 63 || i < len) {
		buf_msg(err,
			"exportd.node_name: \"%s\" must be 1 to 63 letters, digits, '.', '_' "
			"or '-' (it is a metrics label)",
			cf->node_name);
		return EX_EINVAL;
	}
	return EX_OK;
}

static enum ex_status conf_check(struct config *cf, struct buf *err)
{
	size_t len = strlen(cf->http_base_path);
	int secrets;

	/* "/api /" is "/api": white space bared by the slashes goes too. */
	while (len > 0 && (cf->http_base_path[len - 1] == '/' ||
			   isspace((unsigned char)cf->http_base_path[len - 1]))) {
		cf->http_base_path[--len] = '\0';
	}
	if (len > 0 && cf->http_base_path[0] != '/') {
		buf_msg(err, "%s", "http.base_path: must be empty or start with '/'");
		return EX_EINVAL;
	}
	if (cf->db_url[0] == '\0') {
		/* Debian's /etc/exportd/exportd.conf ships it empty: nothing
		 * starts before the admin has written it. */
		buf_msg(err, "%s",
			"database.url: empty; write the database's connection string (see the "
			"README's \"Install on Debian\")");
		return EX_EINVAL;
	}
	if (cf->storage_dir[0] != '/') {
		buf_msg(err, "%s", "storage.dir: must be an absolute path");
		return EX_EINVAL;
	}
	if (cf->work_dir[0] != '\0' && cf->work_dir[0] != '/') {
		buf_msg(err, "%s", "export.work_dir: must be an absolute path (or empty)");
		return EX_EINVAL;
	}
	if (conf_check_origins(cf->http_cors_origins, err) != EX_OK) {
		return EX_EINVAL;
	}
	if (conf_check_file_group(cf, err) != EX_OK) {
		return EX_EINVAL;
	}
	if (conf_check_node(cf, err) != EX_OK) {
		return EX_EINVAL;
	}
	if (cf->mail_smtp_url[0] != '\0' && strncmp(cf->mail_smtp_url, "smtp://", 7) != 0 &&
	    strncmp(cf->mail_smtp_url, "smtps://", 8) != 0) {
		buf_msg(err, "%s", "mail.smtp_url: must start with smtp:// or smtps://");
		return EX_EINVAL;
	}
	if (conf_check_secrets("embed.secrets", cf->embed_secrets, &secrets, err) ||
	    conf_check_secrets("mail.link_secrets", cf->mail_link_secrets, &secrets, err)) {
		return EX_EINVAL;
	}
	if (cf->mail_smtp_url[0] != '\0' && secrets == 0) {
		buf_msg(err, "%s", "mail.link_secrets: required when mail.smtp_url is set");
		return EX_EINVAL;
	}
	if (cf->storage_backend == CONF_BACKEND_S3) {
		enum ex_status st = conf_check_s3(cf, err);

		if (st) {
			return st;
		}
	}
	if (cf->heartbeat_interval_ms >= cf->lease_timeout_ms) {
		buf_msg(err, "%s",
			"exportd.heartbeat_interval: must be shorter than exportd.lease_timeout");
		return EX_EINVAL;
	}
	/* The lease is not renewed while a job waits for a standby. */
	if (strcmp(cf->db_source_url, cf->db_session_url) != 0 &&
	    cf->replica_max_wait_ms >= cf->lease_timeout_ms) {
		buf_msg(err, "%s",
			"exportd.replica_max_wait: must be shorter than exportd.lease_timeout");
		return EX_EINVAL;
	}
	return EX_OK;
}

enum ex_status conf_load_text(struct config *cf, const char *text, const char *name,
			      struct buf *err)
{
	enum ex_status st;

	st = conf_defaults(cf, err);
	if (st) {
		goto out;
	}
	if (text != NULL) {
		st = conf_parse_text(cf, text, name, err);
		if (st) {
			goto out;
		}
	}
	st = conf_apply_env(cf, err);
	if (st) {
		goto out;
	}
	st = conf_database_urls(cf);
	if (st) {
		goto out;
	}
	st = conf_check(cf, err);
out:
	if (st) {
		conf_free(cf);
	}
	return st;
}

/* The file holds secrets (database passwords, link secrets).  0600, or
 * 0640 with the service's group (root:exportd in the Debian package), is
 * what is expected; a file others may read, or group or others may write,
 * gets a warning at every load (start, reload, each exportctl run).  Only
 * a warning: refusing to start would turn a mode slip into an outage. */
static void conf_warn_mode(const char *path, int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0 || (sb.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) == 0) {
		return;
	}
	log_warn("%s: mode %04o: the file is %s, and it holds secrets; make it 0600, or 0640 "
		 "owned by the service's group",
		 path, (unsigned)(sb.st_mode & 07777),
		 (sb.st_mode & S_IROTH) != 0 ? "readable by others"
					     : "writable by group or others");
}

static enum ex_status conf_read_file(const char *path, struct buf *text, struct buf *err)
{
	char chunk[8192];
	size_t n;
	FILE *f = fopen(path, "r");
	enum ex_status st = EX_OK;

	if (f == NULL) {
		buf_msg(err, "%s: cannot open: %s", path, strerror(errno));
		return EX_EIO;
	}
	conf_warn_mode(path, fileno(f));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		st = buf_append(text, chunk, n);
		if (st) {
			buf_msg(err, "%s: file too large", path);
			goto out;
		}
	}
	if (ferror(f)) {
		buf_msg(err, "%s: read error", path);
		st = EX_EIO;
	}
out:
	fclose(f);
	return st;
}

enum ex_status conf_load(struct config *cf, const char *path, struct buf *err)
{
	struct buf text;
	enum ex_status st;

	buf_init(&text, 1024 * 1024UL);
	if (path != NULL) {
		st = conf_read_file(path, &text, err);
		if (st) {
			goto out;
		}
	}
	st = conf_load_text(cf, path != NULL ? buf_str(&text) : NULL,
			    path != NULL ? path : "(none)", err);
out:
	buf_free(&text);
	return st;
}

enum ex_status conf_load_logged(struct config *cf, const char *path)
{
	struct buf err;
	enum ex_status st;

	buf_init(&err, 4096);
	st = conf_load(cf, path, &err);
	if (st) {
		log_error("%s", buf_str(&err));
	}
	buf_free(&err);
	return st;
}

void conf_free(struct config *cf)
{
	size_t i;

	for (i = 0; i < CONF_NENTRIES; i++) {
		if (conf_table[i].type == CONF_STRING) {
			char **field = (char **)(void *)((char *)cf + conf_table[i].offset);

			free(*field);
			*field = NULL;
		}
	}
}

const char *conf_path(const char *arg)
{
	const char *env = getenv("EXPORTD_CONFIG");

	if (arg != NULL) {
		return arg;
	}
	return env != NULL && env[0] != '\0' ? env : CONF_DEFAULT_PATH;
}

/* Would v, written bare after "key = ", read back as something else?  The
 * parser trims white space, cuts comments and unquotes a leading '"'. */
static int conf_needs_quotes(const char *v)
{
	const char *p;

	if (v[0] == '\0') {
		return 0;
	}
	if (isspace((unsigned char)v[0]) || v[0] == '"' ||
	    isspace((unsigned char)v[strlen(v) - 1])) {
		return 1;
	}
	for (p = v; *p != '\0'; p++) {
		if ((*p == '#' || *p == ';') && (p == v || isspace((unsigned char)p[-1]))) {
			return 1;
		}
	}
	return 0;
}

/* "key = value", quoted when it must be so that the line reads back as the
 * same value (a value with '"' in it cannot be quoted; it never needs to be,
 * unless it came from the environment). */
static enum ex_status conf_dump_string(struct buf *out, const char *key, const char *v)
{
	if (conf_needs_quotes(v) && strchr(v, '"') == NULL) {
		return buf_printf(out, "%s = \"%s\"\n", key, v);
	}
	return buf_printf(out, "%s = %s\n", key, v);
}

enum ex_status conf_dump(const struct config *cf, struct buf *out)
{
	const char *base = (const char *)cf, *last = "";
	const struct conf_entry *e;
	enum ex_status st;
	size_t i;

	for (i = 0; i < CONF_NENTRIES; i++) {
		e = &conf_table[i];
		if (strcmp(last, e->section) != 0) {
			st = buf_printf(out, "%s[%s]\n", i ? "\n" : "", e->section);
			if (st) {
				return st;
			}
			last = e->section;
		}
		if (e->secret) {
			st = buf_printf(out, "%s = (set, not shown)\n", e->key);
		} else if (e->type == CONF_STRING) {
			st = conf_dump_string(out, e->key,
					      *(char *const *)(const void *)(base + e->offset));
		} else if (e->type == CONF_ENUM) {
			st = buf_printf(out, "%s = %s\n", e->key,
					e->choices[*(const int *)(const void *)(base + e->offset)]);
		} else if (e->type == CONF_MODE) {
			st = buf_printf(out, "%s = 0%llo\n", e->key,
					*(const long long *)(const void *)(base + e->offset));
		} else {
			st = buf_printf(out, "%s = %lld%s\n", e->key,
					*(const long long *)(const void *)(base + e->offset),
					e->type == CONF_DURATION ? "ms" : "");
		}
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

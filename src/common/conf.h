/* conf.h - exportd.conf: one ini file for all three programs.
 *
 * Every key lives in one typed table (conf.c).  Loading applies the
 * defaults, then the file, then EXPORTD_<SECTION>_<KEY> environment
 * variables.  Errors name file:line (or the environment variable) and are
 * written into the caller's buffer.  Strings in struct config are owned by it
 * and released by conf_free().
 */
#ifndef EXPORTD_CONF_H
#define EXPORTD_CONF_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

/* SYSCONFDIR comes from configure (--sysconfdir, /usr/local/etc by default). */
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define CONF_DEFAULT_PATH SYSCONFDIR "/exportd/exportd.conf"

enum conf_download {
	CONF_DOWNLOAD_STREAM,
	CONF_DOWNLOAD_XSENDFILE,
	CONF_DOWNLOAD_XACCEL,
};

enum conf_backend {
	CONF_BACKEND_LOCAL,
	CONF_BACKEND_S3,
};

enum conf_addressing {
	CONF_ADDRESSING_VIRTUAL,
	CONF_ADDRESSING_PATH,
};

enum conf_replica_fallback {
	CONF_REPLICA_PRIMARY, /* read the rows from the primary instead */
	CONF_REPLICA_WAIT,    /* give the job back, to run again later */
};

enum conf_starttls {
	CONF_STARTTLS_TRY,
	CONF_STARTTLS_REQUIRE,
	CONF_STARTTLS_NEVER,
};

/* exportd.parts_in_flight's maximum (the sink's slots). */
#define CONF_MAX_PARTS_IN_FLIGHT 8

struct config {
	char *db_url;	    /* exportd (the worker role) */
	char *db_api_url;   /* export.fcgi; database.url when not set */
	char *db_admin_url; /* exportctl (the schema owner); database.url when not set */
	/* exportd's session-bound connections (LISTEN, advisory locks, named
	 * prepared statements): directly to PostgreSQL, never through a
	 * transaction pooler; defaults to db_url */
	char *db_session_url;
	/* where the worker reads source rows (a hot standby); defaults to
	 * db_session_url.  Jobs, leases and checkpoints stay on the primary. */
	char *db_source_url;

	char *http_base_path; /* "" or "/prefix" without trailing slash */
	long long http_body_limit;
	long long http_body_timeout_ms;
	int http_download; /* enum conf_download */
	char *http_accel_prefix;
	long long http_stream_chunk;
	char *http_cors_origins; /* comma-separated origins; "" = no CORS */

	long long workers;
	long long poll_interval_ms;
	long long chunk_rows;
	long long part_size;
	long long parts_in_flight; /* compressed parts held: 1 = no compression thread */
	long long write_buffer;
	long long max_row_size;
	long long lease_timeout_ms;
	long long heartbeat_interval_ms;
	long long max_attempts;
	long long shutdown_grace_ms;
	long long retry_base_ms;
	long long retry_max_ms;
	char *node_name;	       /* "": the host name (metrics, worker rows) */
	long long replica_max_wait_ms; /* a standby's replay vs a job's LSN */
	int replica_fallback;	       /* enum conf_replica_fallback */

	int storage_backend; /* enum conf_backend */
	char *storage_dir;
	long long storage_file_mode; /* export files (local backend) */
	char *storage_file_group;    /* "": the process's group */
	long long storage_file_gid;  /* storage_file_group resolved; -1: none */

	char *s3_bucket;
	char *s3_prefix;
	char *s3_region;
	char *s3_endpoint; /* "" = AWS for the region */
	int s3_addressing; /* enum conf_addressing */
	char *s3_access_key_id;
	char *s3_secret_access_key;
	char *s3_session_token;
	long long s3_presign_ttl_ms;
	long long s3_timeout_ms;
	long long s3_max_retries;
	long long s3_retry_base_ms;

	long long retention_ms;
	int csv_crlf; /* 1 = CRLF, 0 = LF */
	long long gzip_level;
	long long zstd_level;
	char *work_dir;		      /* XLSX workbooks are built here; "": storage_dir/.work */
	long long max_rows;	      /* per export; 0 = no limit */
	long long incremental_lag_ms; /* next_since stays this far behind the as-of time */
	long long max_bytes;	      /* per export file; 0 = no limit */
	long long max_active_per_workspace;
	long long max_creates_per_hour_per_workspace; /* 0 = no limit */
	long long max_retained_files_per_workspace;   /* complete exports; 0 = no limit */
	long long max_retained_bytes_per_workspace;   /* their bytes; 0 = no limit */
	long long cleanup_interval_ms;

	int log_level; /* enum log_level */

	char *mail_smtp_url; /* "" = no mail */
	int mail_starttls;   /* enum conf_starttls, for smtp:// */
	char *mail_username;
	char *mail_password;
	char *mail_from_address;
	char *mail_from_name;
	char *mail_public_url;	 /* base of the links in mails */
	char *mail_link_secrets; /* comma-separated; the first signs */
	long long mail_link_lifetime_ms;
	long long mail_timeout_ms;
	long long mail_max_attempts;
	long long mail_retry_base_ms;
	long long mail_retry_max_ms;
	long long mail_poll_interval_ms;

	int webhooks_allow_http;    /* 1: http:// endpoints too (loopback tests, demos) */
	int webhooks_allow_private; /* 1: targets on loopback, link-local, private ranges */
	long long webhooks_timeout_ms;
	long long webhooks_retry_base_ms;
	long long webhooks_retry_max_ms;
	long long webhooks_horizon_ms; /* no attempt later than this after the event */
	long long webhooks_response_max;
	long long webhooks_poll_interval_ms;
	long long webhooks_max_per_workspace;

	int auth_remote_user; /* 1: trust the web server's REMOTE_USER (exportd_web_users) */

	char *embed_secrets; /* comma-separated; the first signs; "" = no embed tokens */
	long long embed_max_lifetime_ms;
};

/* The shortest secret mail.link_secrets and embed.secrets accept, in bytes. */
#define CONF_LINK_SECRET_MIN 32

/* Defaults, then the file at path (NULL: none), then the environment. */
enum ex_status conf_load(struct config *cf, const char *path, struct buf *err) EX_MUST_CHECK;
/* conf_load() for a daemon's start: on failure the reason is logged. */
enum ex_status conf_load_logged(struct config *cf, const char *path) EX_MUST_CHECK;
/* Same, from text in memory; name is used in error messages. */
enum ex_status conf_load_text(struct config *cf, const char *text, const char *name,
			      struct buf *err) EX_MUST_CHECK;
void conf_free(struct config *cf);
/* The path to use: -c argument, else $EXPORTD_CONFIG, else the default. */
const char *conf_path(const char *arg);
/* Print every key with its current value (secrets masked) as ini text. */
enum ex_status conf_dump(const struct config *cf, struct buf *out) EX_MUST_CHECK;

#endif

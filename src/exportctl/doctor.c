/* doctor.c - exportctl doctor (doctor.h): config, connections, schema,
 * roles, the NOTIFY trigger, a LISTEN round trip on the session
 * connection, storage, SMTP, clocks and export types. */
#include "exportctl/doctor.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "db/migrate.h"
#include "exportctl/doctor_sql.h"
#include "jobs/registry.h"
#include "mail/smtp.h"
#include "storage/storage.h"

/* How long a NOTIFY may take to come back on the session connection. */
#define DOCTOR_LISTEN_MS 3000
/* Clock skew that warns; half the lease fails (leases are compared with
 * the database's clock, heartbeats timed by the worker's). */
#define DOCTOR_SKEW_WARN_S 2.0

enum doctor_level { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor {
	struct ctl *c;
	int warns, fails;
};

static void doctor_line(struct doctor *d, enum doctor_level l, const char *check, const char *fmt,
			...) __attribute__((format(printf, 4, 5)));

static void doctor_line(struct doctor *d, enum doctor_level l, const char *check, const char *fmt,
			...)
{
	static const char *const tags[] = {"ok  ", "warn", "FAIL"};
	char text[1024];
	size_t i, n;
	va_list ap;

	d->warns += l == DOCTOR_WARN;
	d->fails += l == DOCTOR_FAIL;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* One line per check: libpq's messages come with newlines and tabs. */
	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] == '\n' || text[i] == '\t') {
			text[i] = ' ';
		}
	}
	for (n = i; n > 0 && text[n - 1] == ' '; n--) {
		text[n - 1] = '\0';
	}
	printf("%s  %-12s %s\n", tags[l], check, text);
	fflush(stdout);
}

/* Connect to url for check; NULL (and a FAIL line) when it does not. */
static PGconn *doctor_connect(struct doctor *d, const char *check, const char *key, const char *url)
{
	PGconn *conn = NULL;

	buf_reset(&d->c->err);
	if (db_connect(url, "exportctl-doctor", &conn, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, check, "%s does not connect: %s", key,
			    buf_str(&d->c->err));
		return NULL;
	}
	return conn;
}

static void doctor_migrations(struct doctor *d, PGconn *conn)
{
	const char *first;
	unsigned pending;

	if (migrate_pending(conn, &pending, &first, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "migrations", "%s", buf_str(&d->c->err));
	} else if (pending > 0) {
		doctor_line(d, DOCTOR_FAIL, "migrations",
			    "%u missing (from %s): run exportctl migrate", pending, first);
	} else {
		doctor_line(d, DOCTOR_OK, "migrations", "all %u applied", migrate_count);
	}
}

/* The program behind key connects as a member of kind's group role, and
 * not as a superuser. */
static void doctor_role(struct doctor *d, const char *key, const char *url, const char *kind)
{
	const char *params[1] = {kind};
	PGresult *res = NULL;
	PGconn *conn = doctor_connect(d, "roles", key, url);

	if (conn == NULL) {
		return;
	}
	if (db_exec(conn, doctor_role_sql, 1, params, &res, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "roles", "%s: %s", key, buf_str(&d->c->err));
	} else if (strcmp(db_text(res, 0, "superuser"), "t") == 0) {
		doctor_line(d, DOCTOR_FAIL, "roles",
			    "%s connects as %s, a superuser: use a login role in %s (README "
			    "\"Database roles\")",
			    key, db_text(res, 0, "role"), db_text(res, 0, "grp"));
	} else if (strcmp(db_text(res, 0, "member"), "t") != 0) {
		doctor_line(d, DOCTOR_FAIL, "roles",
			    "%s connects as %s, not a member of %s: GRANT %s TO %s", key,
			    db_text(res, 0, "role"), db_text(res, 0, "grp"), db_text(res, 0, "grp"),
			    db_text(res, 0, "role"));
	} else {
		doctor_line(d, DOCTOR_OK, "roles", "%s: %s, a member of %s", key,
			    db_text(res, 0, "role"), db_text(res, 0, "grp"));
	}
	PQclear(res);
	PQfinish(conn);
}

static void doctor_trigger(struct doctor *d, PGconn *conn)
{
	PGresult *res = NULL;

	if (db_exec(conn, doctor_trigger_sql, 0, NULL, &res, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "trigger", "%s", buf_str(&d->c->err));
	} else if (strcmp(db_text(res, 0, "enabled"), "t") != 0) {
		doctor_line(d, DOCTOR_FAIL, "trigger",
			    "export_jobs_notify is missing or disabled: workers wake only every "
			    "exportd.poll_interval (ALTER TABLE export_jobs ENABLE TRIGGER "
			    "export_jobs_notify)");
	} else {
		doctor_line(d, DOCTOR_OK, "trigger", "export_jobs_notify enabled");
	}
	PQclear(res);
}

/* A NOTIFY sent on database.url comes back to a LISTEN on
 * database.session_url: what every worker relies on.  Through a
 * transaction pooler it never does. */
static int doctor_listen_wait(PGconn *listener, const char *token)
{
	struct timespec t0, t;
	PGnotify *n;
	struct pollfd pfd;
	long waited = 0;
	int found = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!found && waited < DOCTOR_LISTEN_MS) {
		pfd.fd = PQsocket(listener);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(DOCTOR_LISTEN_MS - waited)) < 0 ||
		    !PQconsumeInput(listener)) {
			break;
		}
		while ((n = PQnotifies(listener)) != NULL) {
			found = found || strcmp(n->extra, token) == 0;
			PQfreemem(n);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		waited = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
	}
	return found;
}

static void doctor_listen(struct doctor *d, const struct config *cf)
{
	PGconn *listener = doctor_connect(d, "listen", "database.session_url", cf->db_session_url);
	PGconn *sender =
		listener != NULL ? doctor_connect(d, "listen", "database.url", cf->db_url) : NULL;
	char token[32];
	const char *params[1] = {token};

	if (sender == NULL) {
		goto out;
	}
	snprintf(token, sizeof(token), "%ld", (long)time(NULL));
	if (db_exec(listener, doctor_listen_sql, 0, NULL, NULL, &d->c->err) ||
	    db_exec(sender, doctor_notify_sql, 1, params, NULL, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "listen", "%s", buf_str(&d->c->err));
	} else if (!doctor_listen_wait(listener, token)) {
		doctor_line(d, DOCTOR_FAIL, "listen",
			    "a NOTIFY did not reach a LISTEN on database.session_url within %d ms: "
			    "it must reach PostgreSQL directly, not through a transaction pooler",
			    DOCTOR_LISTEN_MS);
	} else {
		doctor_line(d, DOCTOR_OK, "listen", "NOTIFY on url reaches LISTEN on session_url");
	}
out:
	if (sender != NULL) {
		PQfinish(sender);
	}
	if (listener != NULL) {
		PQfinish(listener);
	}
}

/* database.source_url, when it names another server than session_url: it
 * connects as the worker role, it is a standby, its replay is not paused,
 * and it keeps the primary from removing rows its reads still see. */
static void doctor_source_lines(struct doctor *d, const PGresult *res)
{
	const char *behind = db_text(res, 0, "behind");

	if (strcmp(db_text(res, 0, "standby"), "t") != 0) {
		doctor_line(d, DOCTOR_WARN, "source",
			    "database.source_url is not a standby: rows are read from a primary");
		return;
	}
	if (strcmp(db_text(res, 0, "paused"), "not paused") != 0) {
		doctor_line(d, DOCTOR_WARN, "source",
			    "replay on the standby is paused (%s): every job waits "
			    "exportd.replica_max_wait, then reads from the primary or waits "
			    "(pg_wal_replay_resume())",
			    db_text(res, 0, "paused"));
	} else if (strcmp(db_text(res, 0, "feedback"), "on") != 0) {
		doctor_line(d, DOCTOR_WARN, "source",
			    "hot_standby_feedback is off on the standby: VACUUM on the primary "
			    "cancels long reads there (recovery conflicts, each costs an attempt); "
			    "set it on");
	} else {
		doctor_line(d, DOCTOR_OK, "source", "a standby, replay %s bytes behind the primary",
			    behind);
	}
}

static void doctor_source(struct doctor *d, PGconn *primary, const struct config *cf)
{
	PGconn *src;
	PGresult *pos = NULL, *res = NULL;
	const char *params[1];

	if (strcmp(cf->db_source_url, cf->db_session_url) == 0) {
		doctor_line(d, DOCTOR_OK, "source", "rows read from the primary (session_url)");
		return;
	}
	doctor_role(d, "database.source_url", cf->db_source_url, "worker");
	src = doctor_connect(d, "source", "database.source_url", cf->db_source_url);
	if (src == NULL) {
		return;
	}
	if (db_exec(primary, doctor_wal_position_sql, 0, NULL, &pos, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "source", "%s", buf_str(&d->c->err));
		goto out;
	}
	params[0] = db_text(pos, 0, "lsn");
	if (db_exec(src, doctor_source_sql, 1, params, &res, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "source", "%s", buf_str(&d->c->err));
		goto out;
	}
	doctor_source_lines(d, res);
out:
	PQclear(res);
	PQclear(pos);
	PQfinish(src);
}

/* A probe file written, completed and removed through the storage
 * backend, as an export is (S3: a multipart upload). */
static void doctor_storage(struct doctor *d, const struct config *cf)
{
	struct storage_upload *up = NULL;
	struct storage_ckpt ckpt;
	char key[64];
	enum ex_status st;

	snprintf(key, sizeof(key), "exportd-doctor-%ld.probe", (long)time(NULL));
	buf_reset(&d->c->err);
	memset(&ckpt, 0, sizeof(ckpt));
	st = storage_open(cf, key, NULL, &up, &d->c->err);
	if (st == EX_OK) {
		st = storage_write(up, "probe\n", 6, &d->c->err);
	}
	if (st == EX_OK) {
		st = storage_part_end(up, &ckpt, &d->c->err);
	}
	if (st == EX_OK) {
		st = storage_complete(up, &d->c->err);
	}
	if (up != NULL) {
		if (st) {
			storage_abort(up);
		}
		storage_close(up);
	}
	if (st == EX_OK) {
		st = storage_remove(cf, key, &d->c->err);
	}
	if (st) {
		doctor_line(d, DOCTOR_FAIL, "storage", "%s", buf_str(&d->c->err));
	} else {
		doctor_line(d, DOCTOR_OK, "storage", "%s: a file written, completed and removed",
			    cf->storage_backend == CONF_BACKEND_S3 ? "s3" : cf->storage_dir);
	}
}

static void doctor_smtp(struct doctor *d, const struct config *cf)
{
	if (cf->mail_smtp_url[0] == '\0') {
		doctor_line(d, DOCTOR_OK, "smtp", "mail off (mail.smtp_url empty)");
		return;
	}
	buf_reset(&d->c->err);
	if (smtp_check(cf, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "smtp", "%s", buf_str(&d->c->err));
	} else {
		doctor_line(d, DOCTOR_OK, "smtp", "the server answers (no mail sent)");
	}
}

static void doctor_clock(struct doctor *d, PGconn *conn, const struct config *cf)
{
	PGresult *res = NULL;
	double skew;

	if (db_exec(conn, doctor_clock_sql, 0, NULL, &res, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "clock", "%s", buf_str(&d->c->err));
		return;
	}
	skew = strtod(db_text(res, 0, "now"), NULL) - (double)time(NULL);
	skew = skew < 0 ? -skew : skew;
	PQclear(res);
	if (skew * 2000.0 > (double)cf->lease_timeout_ms) {
		doctor_line(d, DOCTOR_FAIL, "clock",
			    "this host and the database differ by %.1f s, more than half of "
			    "exportd.lease_timeout: run NTP on both",
			    skew);
	} else if (skew > DOCTOR_SKEW_WARN_S) {
		doctor_line(d, DOCTOR_WARN, "clock", "this host and the database differ by %.1f s",
			    skew);
	} else {
		doctor_line(d, DOCTOR_OK, "clock", "within %.0f s of the database's",
			    DOCTOR_SKEW_WARN_S);
	}
}

static void doctor_type(struct doctor *d, const PGresult *res, int i)
{
	const char *name = db_value(res, i, 0), *not_granted = db_text(res, i, "not_granted");

	if (strcmp(db_text(res, i, "relation_ok"), "t") != 0) {
		doctor_line(d, DOCTOR_FAIL, "type", "%s: its relation does not exist", name);
	} else if (strcmp(db_text(res, i, "key_ok"), "t") != 0 ||
		   strcmp(db_text(res, i, "workspace_ok"), "t") != 0) {
		doctor_line(d, DOCTOR_FAIL, "type",
			    "%s: its key or workspace column does not exist", name);
	} else if (not_granted != NULL && not_granted[0] != '\0') {
		doctor_line(d, DOCTOR_FAIL, "type",
			    "%s: the worker role may not read %s: run exportctl type grant %s",
			    name, not_granted, name);
	} else if (strcmp(db_text(res, i, "index_ok"), "t") != 0) {
		doctor_line(d, DOCTOR_WARN, "type",
			    "%s: no index leads with (workspace, key): every chunk of an export "
			    "scans the workspace",
			    name);
	} else {
		doctor_line(d, DOCTOR_OK, "type", "%s", name);
	}
}

static void doctor_types(struct doctor *d, PGconn *conn)
{
	PGresult *res = NULL;
	int i;

	if (registry_doctor(conn, &res, &d->c->err)) {
		doctor_line(d, DOCTOR_FAIL, "type", "%s", buf_str(&d->c->err));
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		doctor_type(d, res, i);
	}
	if (PQntuples(res) == 0) {
		doctor_line(d, DOCTOR_WARN, "type", "no export types: README \"Exposing a table\"");
	}
	PQclear(res);
}

int ctl_doctor(struct ctl *c, const char *path)
{
	struct doctor d = {c, 0, 0};
	const struct config *cf = &c->cf;

	doctor_line(&d, DOCTOR_OK, "config", "%s", path);
	if (c->conn == NULL) {
		doctor_line(&d, DOCTOR_FAIL, "database", "database.admin_url does not connect: %s",
			    buf_str(&c->err));
		return 2;
	}
	doctor_line(&d, DOCTOR_OK, "database", "reachable (database.admin_url)");
	doctor_migrations(&d, c->conn);
	doctor_role(&d, "database.url", cf->db_url, "worker");
	doctor_role(&d, "database.session_url", cf->db_session_url, "worker");
	doctor_role(&d, "database.api_url", cf->db_api_url, "api");
	doctor_trigger(&d, c->conn);
	doctor_listen(&d, cf);
	doctor_source(&d, c->conn, cf);
	doctor_storage(&d, cf);
	doctor_smtp(&d, cf);
	doctor_clock(&d, c->conn, cf);
	doctor_types(&d, c->conn);
	printf("%d failure%s, %d warning%s\n", d.fails, d.fails == 1 ? "" : "s", d.warns,
	       d.warns == 1 ? "" : "s");
	return d.fails > 0 ? 2 : d.warns > 0 ? 1 : 0;
}

/* exportd - the export worker daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "db/db.h"
#include "db/migrate.h"
#include "exportd/supervisor.h"

static void usage(FILE *to)
{
	fprintf(to, "usage: exportd [-c CONFIG] [-t]\n"
		    "Runs the export workers in the foreground; SIGTERM drains, a second SIGTERM\n"
		    "or SIGQUIT stops at once, SIGHUP reloads.  -t: test the config, the\n"
		    "database connection and the schema version, then exit.\n"
		    "CONFIG defaults to $EXPORTD_CONFIG, then " CONF_DEFAULT_PATH ".\n");
}

/* database.session_url, when it is not database.url: it connects and
 * takes LISTEN. */
static enum ex_status main_test_session(const struct config *cf, struct buf *err)
{
	PGconn *conn = NULL;
	enum ex_status st;

	if (strcmp(cf->db_session_url, cf->db_url) == 0) {
		return EX_OK;
	}
	st = db_connect(cf->db_session_url, "exportd-test", &conn, err);
	if (st == EX_OK) {
		st = db_exec_script(conn, "LISTEN export_jobs", err);
	}
	if (conn != NULL) {
		PQfinish(conn);
	}
	return st;
}

/* -t: what must hold before the daemon is worth starting (the unit's
 * ExecStartPre): the config parses and validates (done by the caller),
 * database.url connects, and every migration this build knows ran. */
static int main_test(const struct config *cf, const char *path)
{
	PGconn *conn = NULL;
	const char *first;
	unsigned pending = 0;
	struct buf err;
	enum ex_status st;

	buf_init(&err, 4096);
	st = main_test_session(cf, &err);
	if (st) {
		log_error("%s: database.session_url: %s", path, buf_str(&err));
		goto out;
	}
	st = db_connect(cf->db_url, "exportd-test", &conn, &err);
	if (st == EX_OK) {
		st = migrate_pending(conn, &pending, &first, &err);
	}
	if (st) {
		log_error("%s: database.url: %s", path, buf_str(&err));
	} else if (pending > 0) {
		log_error("%s: the database lacks %u migration%s (from %s): run exportctl migrate",
			  path, pending, pending == 1 ? "" : "s", first);
	} else {
		printf("exportd: %s: configuration, database and schema ok\n", path);
	}
out:
	if (conn != NULL) {
		PQfinish(conn);
	}
	buf_free(&err);
	return st || pending > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *arg = NULL, *path;
	struct config cf;
	enum ex_status st;
	int opt, rc, test = 0;

	while ((opt = getopt(argc, argv, "c:thV")) != -1) {
		switch (opt) {
		case 'c':
			arg = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("exportd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	log_init("exportd", LOG_INFO);
	path = conf_path(arg);
	st = conf_load_logged(&cf, path);
	if (st) {
		return 1;
	}
	log_set_level((enum log_level)cf.log_level);
	rc = test ? main_test(&cf, path) : supervisor_run(&cf, path);
	conf_free(&cf);
	return rc;
}

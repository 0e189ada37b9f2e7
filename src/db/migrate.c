#include "db/migrate.h"

#include <stdio.h>

#include "common/log.h"
#include "db/db.h"

/* Arbitrary constant: serialises concurrent `exportctl migrate` runs. */
#define MIGRATE_LOCK_KEY "7301946250187"

static enum ex_status migrate_one(PGconn *conn, const struct migration *m, struct buf *err)
{
	char version[16];
	const char *params[2] = {version, m->name};
	enum ex_status st;

	snprintf(version, sizeof(version), "%d", m->version);
	st = db_exec(conn, "BEGIN", 0, NULL, NULL, err);
	if (st == EX_OK) {
		st = db_exec_script(conn, m->sql, err);
	}
	if (st == EX_OK) {
		st = db_exec(conn, "INSERT INTO exportd_migrations (version, name) VALUES ($1, $2)",
			     2, params, NULL, err);
	}
	if (st == EX_OK) {
		st = db_exec(conn, "COMMIT", 0, NULL, NULL, err);
	}
	if (st != EX_OK) {
		db_exec_quiet(conn, "ROLLBACK");
	}
	return st;
}

static int migrate_is_applied(const PGresult *res, int version)
{
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		if (db_int(res, i, 0) == version) {
			return 1;
		}
	}
	return 0;
}

enum ex_status migrate_run(PGconn *conn, int *applied, struct buf *err)
{
	PGresult *done = NULL;
	unsigned i;
	enum ex_status st;

	*applied = 0;
	st = db_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL, NULL, err);
	if (st != EX_OK) {
		return st;
	}
	st = db_exec(conn,
		     "CREATE TABLE IF NOT EXISTS exportd_migrations ("
		     " version integer PRIMARY KEY, name text NOT NULL,"
		     " applied_at timestamptz NOT NULL DEFAULT now())",
		     0, NULL, NULL, err);
	if (st == EX_OK) {
		st = db_exec(conn, "SELECT version FROM exportd_migrations", 0, NULL, &done, err);
	}
	for (i = 0; st == EX_OK && i < migrate_count; i++) {
		if (migrate_is_applied(done, migrate_list[i].version)) {
			continue;
		}
		log_info("applying migration %s", migrate_list[i].name);
		st = migrate_one(conn, &migrate_list[i], err);
		if (st == EX_OK) {
			(*applied)++;
		}
	}
	PQclear(done);
	db_exec_quiet(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
	return st;
}

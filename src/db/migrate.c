/* migrate.c - owns exportd_migrations (sql/statements/migrate.sql) and
 * applies sql/migrations in order. */
#include "db/migrate.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "db/db.h"
#include "db/migrate_sql.h"

static enum ex_status migrate_one(PGconn *conn, const struct migration *m, struct buf *err)
{
	char version[16];
	const char *params[2] = {version, m->name};
	enum ex_status st;

	snprintf(version, sizeof(version), "%d", m->version);
	st = db_begin(conn, err);
	if (st) {
		return st;
	}
	st = db_exec_script(conn, m->sql, err);
	if (st) {
		goto fail;
	}
	st = db_exec(conn, migrate_record_sql, 2, params, NULL, err);
	if (st) {
		goto fail;
	}
	st = db_commit(conn, err);
	if (st) {
		goto fail;
	}
	return EX_OK;
fail:
	db_rollback(conn);
	return st;
}

static int migrate_is_applied(const PGresult *res, int version)
{
	int i, col = PQfnumber(res, "version");

	for (i = 0; col >= 0 && i < PQntuples(res); i++) {
		if (db_int(res, i, col) == version) {
			return 1;
		}
	}
	return 0;
}

/* Under the lock: the table, what it records, what is missing. */
static enum ex_status migrate_locked(PGconn *conn, int *applied, struct buf *err)
{
	PGresult *done = NULL;
	unsigned i;
	enum ex_status st;

	st = db_exec(conn, migrate_table_sql, 0, NULL, NULL, err);
	if (st) {
		return st;
	}
	st = db_exec(conn, migrate_applied_sql, 0, NULL, &done, err);
	if (st) {
		return st;
	}
	for (i = 0; i < migrate_count; i++) {
		if (migrate_is_applied(done, migrate_list[i].version)) {
			continue;
		}
		log_info("applying migration %s", migrate_list[i].name);
		st = migrate_one(conn, &migrate_list[i], err);
		if (st) {
			goto out;
		}
		(*applied)++;
	}
out:
	PQclear(done);
	return st;
}

enum ex_status migrate_pending(PGconn *conn, unsigned *pending, const char **first, struct buf *err)
{
	PGresult *done = NULL;
	unsigned i;
	enum ex_status st;

	*pending = 0;
	*first = NULL;
	st = db_exec(conn, migrate_table_exists_sql, 0, NULL, &done, err);
	if (st) {
		return st;
	}
	if (strcmp(PQgetvalue(done, 0, 0), "t") == 0) {
		PQclear(done);
		done = NULL;
		st = db_exec(conn, migrate_applied_sql, 0, NULL, &done, err);
		if (st) {
			return st;
		}
	}
	for (i = 0; i < migrate_count; i++) {
		if (!migrate_is_applied(done, migrate_list[i].version)) {
			*first = *first != NULL ? *first : migrate_list[i].name;
			(*pending)++;
		}
	}
	PQclear(done);
	return EX_OK;
}

enum ex_status migrate_run(PGconn *conn, int *applied, struct buf *err)
{
	enum ex_status st;

	*applied = 0;
	st = db_exec(conn, migrate_lock_sql, 0, NULL, NULL, err);
	if (st) {
		return st;
	}
	st = migrate_locked(conn, applied, err);
	db_exec_quiet(conn, migrate_unlock_sql);
	return st;
}

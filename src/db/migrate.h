/* migrate.h - ordered schema migrations, compiled in from sql/migrations;
 * the record of what ran is exportd_migrations (owned here). */
#ifndef EXPORTD_MIGRATE_H
#define EXPORTD_MIGRATE_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrate_list[];
extern const unsigned migrate_count;

/* Apply every migration not yet recorded, each in its own transaction,
 * serialised by an advisory lock; *applied counts the new ones. */
enum ex_status migrate_run(PGconn *conn, int *applied, struct buf *err) EX_MUST_CHECK;

/* How many compiled-in migrations the database has not recorded (all of
 * them when it has no exportd_migrations table); *first names the oldest
 * missing one (NULL when none).  Reads only: for `exportd -t`. */
enum ex_status migrate_pending(PGconn *conn, unsigned *pending, const char **first,
			       struct buf *err) EX_MUST_CHECK;

#endif

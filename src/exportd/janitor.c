#include "exportd/janitor.h"

#include <string.h>

#include "common/log.h"
#include "db/db.h"
#include "exportd/child.h"
#include "storage/storage.h"

#define JANITOR_BATCH "100"

/* Expire one batch: lock due rows, remove their files, mark them, commit.
 * A file that cannot be removed keeps its job complete (retried next
 * round); *count gets how many were expired. */
static enum ex_status janitor_batch(PGconn *conn, const struct config *cf, int *count,
				    struct buf *err)
{
	PGresult *res = NULL;
	const char *params[1];
	enum ex_status st;
	int i;

	*count = 0;
	st = db_exec(conn, "BEGIN", 0, NULL, NULL, err);
	st = st == EX_OK
		     ? db_exec(conn,
			       "SELECT id, file_key FROM export_jobs"
			       " WHERE status = 'complete' AND expires_at <= now()"
			       " ORDER BY expires_at FOR UPDATE SKIP LOCKED LIMIT " JANITOR_BATCH,
			       0, NULL, &res, err)
		     : st;
	for (i = 0; st == EX_OK && i < PQntuples(res); i++) {
		const char *key = db_value(res, i, 1);

		if (key != NULL && storage_remove(cf, key, err) != EX_OK) {
			log_warn("job %s: cannot remove its expired file: %s",
				 PQgetvalue(res, i, 0), buf_str(err));
			continue;
		}
		params[0] = PQgetvalue(res, i, 0);
		st = db_exec(conn,
			     "UPDATE export_jobs SET status = 'expired', purged_at = now()"
			     " WHERE id = $1",
			     1, params, NULL, err);
		*count += st == EX_OK;
	}
	st = st == EX_OK ? db_exec(conn, "COMMIT", 0, NULL, NULL, err) : st;
	if (st != EX_OK && db_ok(conn)) {
		db_exec_quiet(conn, "ROLLBACK");
		*count = 0;
	}
	PQclear(res);
	return st;
}

static long long janitor_round(PGconn *conn, const struct config *cf, void *arg)
{
	struct buf err;
	int n = 1, total = 0;

	(void)arg;
	buf_init(&err, 4096);
	while (n > 0 && !child_stop) {
		if (janitor_batch(conn, cf, &n, &err) != EX_OK) {
			log_warn("retention: %s", buf_str(&err));
			break;
		}
		total += n;
	}
	if (total > 0) {
		log_info("retention: %d expired exports removed", total);
	}
	buf_free(&err);
	return cf->cleanup_interval_ms;
}

int janitor_main(const struct config *cf)
{
	static const struct child_loop loop = {"exportd-janitor", "SELECT 1", janitor_round, NULL};

	return child_run(cf, &loop);
}

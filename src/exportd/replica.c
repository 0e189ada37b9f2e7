/* replica.c - the source connection and the wait for a standby's replay
 * (see replica.h). */
#include "exportd/replica.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "db/db.h"
#include "exportd/replica_sql.h"

#define REPLICA_POLL_MIN_MS 20
#define REPLICA_POLL_MAX_MS 500

/* One look at the standby: *caught_up, and how far it has replayed. */
static enum ex_status replica_look(PGconn *conn, const char *lsn, int *standby, int *caught_up,
				   char *replayed, size_t replayed_size, struct buf *err)
{
	const char *params[1] = {lsn};
	PGresult *res = NULL;
	enum ex_status st;

	st = db_exec(conn, replica_caught_up_sql, 1, params, &res, err);
	if (st) {
		return st;
	}
	*standby = strcmp(db_text(res, 0, "standby"), "t") == 0;
	*caught_up = strcmp(db_text(res, 0, "caught_up"), "t") == 0;
	snprintf(replayed, replayed_size, "%s", db_text(res, 0, "replayed"));
	PQclear(res);
	return EX_OK;
}

/* Wait until the standby on conn has replayed past lsn, or max_wait_ms. */
static enum ex_status replica_wait(PGconn *conn, const struct config *cf,
				   const struct jobs_claim *job, volatile sig_atomic_t *stop,
				   int *caught_up, char *replayed, size_t replayed_size,
				   struct buf *err)
{
	long long start = timeutil_now_ms(), pause = REPLICA_POLL_MIN_MS;
	int standby, logged = 0;
	enum ex_status st;

	for (;;) {
		st = replica_look(conn, job->created_lsn, &standby, caught_up, replayed,
				  replayed_size, err);
		if (st || *caught_up || timeutil_now_ms() - start >= cf->replica_max_wait_ms) {
			return st;
		}
		if (*stop) {
			return EX_ESTOP;
		}
		if (!logged) {
			log_info("job %s: waiting for the standby to replay to %s (at %s)", job->id,
				 job->created_lsn, replayed);
			logged = 1;
		}
		poll(NULL, 0, (int)pause);
		pause = pause * 2 > REPLICA_POLL_MAX_MS ? REPLICA_POLL_MAX_MS : pause * 2;
	}
}

/* Open a new connection unless the kept one still works. */
static enum ex_status replica_open(const struct config *cf, const char *appname,
				   struct replica_conn *src, struct buf *err)
{
	if (src->conn != NULL && db_ok(src->conn)) {
		return EX_OK;
	}
	replica_close(src);
	return db_connect(cf->db_source_url, appname, &src->conn, err);
}

enum ex_status replica_connect(const struct config *cf, const struct jobs_claim *job,
			       const char *appname, volatile sig_atomic_t *stop,
			       struct replica_conn *src, struct buf *err)
{
	char replayed[64] = "";
	int caught_up = 1;
	enum ex_status st;

	st = replica_open(cf, appname, src, err);
	if (st || job->created_lsn == NULL || strcmp(cf->db_source_url, cf->db_session_url) == 0) {
		return st;
	}
	st = replica_wait(src->conn, cf, job, stop, &caught_up, replayed, sizeof(replayed), err);
	if (st || caught_up) {
		return st;
	}
	replica_close(src);
	if (cf->replica_fallback == CONF_REPLICA_WAIT) {
		buf_msg(err, "the standby has replayed to %s, the job needs %s (waited %lld ms)",
			replayed, job->created_lsn, cf->replica_max_wait_ms);
		return EX_EDB;
	}
	log_warn("job %s: the standby has replayed to %s, the job needs %s: reading from the "
		 "primary",
		 job->id, replayed, job->created_lsn);
	src->fallback = 1;
	return db_connect(cf->db_session_url, appname, &src->conn, err);
}

void replica_release(struct replica_conn *src)
{
	struct buf err;

	if (src->conn == NULL) {
		return;
	}
	buf_init(&err, 1024);
	if (src->fallback || !db_ok(src->conn) ||
	    db_exec(src->conn, "DISCARD ALL", 0, NULL, NULL, &err) != EX_OK) {
		replica_close(src);
	}
	buf_free(&err);
}

void replica_close(struct replica_conn *src)
{
	if (src->conn != NULL) {
		PQfinish(src->conn);
	}
	src->conn = NULL;
	src->fallback = 0;
}

/* replica.h - the connection a job's rows are read on: a hot standby
 * (database.source_url) once it has replayed past the job's creation.
 *
 * A job records the primary's WAL position when it is inserted
 * (export_jobs.created_lsn, migration 016).  Rows committed before that are
 * in the WAL before it, so a standby whose replay has passed it holds every
 * row the job must export.  Until it has, the worker waits, up to
 * exportd.replica_max_wait; past that it reads from the primary
 * (replica_fallback = primary) or gives the job back to run again later
 * (replica_fallback = wait: a transient failure the job's errors show).
 * Jobs, leases and checkpoints always stay on the primary.
 *
 * A worker keeps its source connection from one job to the next (a new
 * backend costs tens of milliseconds, as much as a small export): after
 * each job DISCARD ALL drops whatever the job left in the session
 * (prepared statements, settings), or the connection is closed.
 */
#ifndef EXPORTD_REPLICA_H
#define EXPORTD_REPLICA_H

#include <libpq-fe.h>
#include <signal.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"
#include "jobs/jobs.h"

struct replica_conn {
	PGconn *conn; /* NULL: none yet */
	int fallback; /* conn is the primary, standing in for a standby behind */
};

/* Make src->conn (application_name `appname`) the connection the job's rows
 * are read on, reusing the one kept from the last job when it still works.
 * EX_ESTOP when *stop is set while waiting; EX_EDB when the standby stayed
 * behind and the fallback is to wait (err says how far it was). */
enum ex_status replica_connect(const struct config *cf, const struct jobs_claim *job,
			       const char *appname, volatile sig_atomic_t *stop,
			       struct replica_conn *src, struct buf *err) EX_MUST_CHECK;
/* The job is done with its rows: keep the connection for the next job
 * (DISCARD ALL) or close it (it broke, is busy, or stood in for a standby). */
void replica_release(struct replica_conn *src);
/* Close it (the worker stops). */
void replica_close(struct replica_conn *src);

#endif

/* export.h - run one claimed job: rows -> format writer -> parts -> storage.
 *
 * Rows are read in keyset chunks (WHERE ws = $1 AND key > $2 ORDER BY key
 * LIMIT chunk_rows) on a data connection of its own, the next chunk already
 * requested while the current one is formatted.  A part ends at the first
 * row boundary at or past part_size, so cut points depend only on the data;
 * after each part is durable the checkpoint (last key, rows, bytes, part)
 * is committed under the lease token on the control connection.  A job
 * whose checkpoint is set resumes after its last key, byte-identically.
 */
#ifndef EXPORTD_EXPORT_H
#define EXPORTD_EXPORT_H

#include <libpq-fe.h>
#include <signal.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"
#include "exportd/replica.h"
#include "jobs/jobs.h"

struct export_ctx {
	const struct config *cf;
	PGconn *ctl;		     /* lease, checkpoints, completion */
	struct replica_conn *source; /* the rows; kept by the worker between jobs */
	struct jobs_claim *job;
	volatile sig_atomic_t *stop; /* set on SIGTERM: give the job back */
};

/* EX_OK: the job is complete.  Otherwise the job is untouched in the
 * database and err says why; the caller decides (retry, fail, release).
 * EX_ECANCEL: a cancel was requested and the partial file is removed. */
enum ex_status export_run(const struct export_ctx *ctx, struct buf *err) EX_MUST_CHECK;

/* Remove whatever file a run of this job left (a job failed for good). */
void export_discard(const struct config *cf, const struct jobs_claim *job);

#endif

/* stats.h - what an exportd process writes for /metrics (migration 015):
 * its pending event counters (common/counter.h) and, in a worker, its row
 * of exportd_workers (state, job, heartbeat).  A failed write is logged
 * (once until one succeeds) and never fails a job: the counters wait in
 * memory for the next try. */
#ifndef EXPORTD_STATS_H
#define EXPORTD_STATS_H

#include <libpq-fe.h>

#include "common/conf.h"

/* This process is worker `slot` (call once, at the worker's start). */
void stats_worker_init(int slot);

/* Write the pending counters, if any.  Every process, after each round. */
void stats_flush(PGconn *conn, const struct config *cf);

/* The worker is now idle (job_id NULL) or busy with job_id: its row is
 * written at once, with the counters. */
void stats_state(PGconn *conn, const struct config *cf, const char *job_id);

/* Alive: at most once per exportd.heartbeat_interval, the worker row's
 * heartbeat and the counters (between rounds and during an export). */
void stats_beat(PGconn *conn, const struct config *cf);

/* A clean stop (every process): the last counters written; a worker's
 * row goes. */
void stats_worker_gone(PGconn *conn, const struct config *cf);

/* A claim's events: a takeover, or the time a due job waited. */
void stats_claimed(int takeover, double waited_s);

#endif

-- stats.sql - what exportd's processes write for /metrics (migration 015);
-- read only by src/exportd/stats.c.

-- Add this process's pending counters to its node's rows.  $1: the node,
-- $2: [{"m": metric, "l": labels, "v": value}, ...] (json).
-- name: stats_flush
INSERT INTO exportd_counters AS c (node, metric, labels, value)
SELECT $1, u.m, u.l, u.v FROM json_to_recordset($2::json) AS u(m text, l text, v float8)
ON CONFLICT (node, metric, labels) DO UPDATE SET value = c.value + EXCLUDED.value;

-- A worker's state and heartbeat.  $1 node, $2 slot, $3 pid, $4 'idle' or
-- 'busy', $5 the job (busy) or NULL.  `since` moves when the state or the
-- process changes.
-- name: stats_worker
INSERT INTO exportd_workers AS w (node, slot, pid, state, job_id)
VALUES ($1, $2::int, $3::int, $4, $5::uuid)
ON CONFLICT (node, slot) DO UPDATE SET pid = EXCLUDED.pid, state = EXCLUDED.state,
  job_id = EXCLUDED.job_id, heartbeat_at = now(),
  since = CASE WHEN w.state = EXCLUDED.state AND w.pid = EXCLUDED.pid
    AND w.job_id IS NOT DISTINCT FROM EXCLUDED.job_id THEN w.since ELSE now() END;

-- Slots this node no longer runs (exportd.workers was lowered): worker 0
-- removes them when it starts.  $1 node, $2 exportd.workers.
-- name: stats_worker_prune
DELETE FROM exportd_workers WHERE node = $1 AND slot >= $2::int;

-- A worker that stops cleanly takes its row away.  $1 node, $2 slot, $3 pid.
-- name: stats_worker_gone
DELETE FROM exportd_workers WHERE node = $1 AND slot = $2::int AND pid = $3::int;

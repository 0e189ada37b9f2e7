-- What exportd's processes count and where its workers are (issue 18),
-- for /metrics.  Events that no job row keeps (a lease taken over, a retry
-- scheduled, a mail sent or given up, an S3 request refused, how long a job
-- waited in the queue) are counted in each process's memory
-- (src/common/counter.c) and added here by that process after each round
-- and each heartbeat, one row per node, metric and label set: a process
-- only ever locks its own node's rows, and only briefly.  The scrape sums
-- the nodes, so a counter never goes down when a node is renamed or
-- removed.  Histogram buckets are rows like any counter
-- (exportd_queue_latency_seconds_bucket, labels le="5").
CREATE TABLE exportd_counters (
    node   text NOT NULL CHECK (node <> ''),
    metric text NOT NULL CHECK (metric ~ '^exportd_[a-z0-9_]+$'),
    -- none, or one name="value" pair: /metrics prints it as it is
    labels text NOT NULL DEFAULT '' CHECK (labels ~ '^([a-z_]+="[A-Za-z0-9_.+-]{1,64}")?$'),
    value  float8 NOT NULL DEFAULT 0,
    PRIMARY KEY (node, metric, labels)
);

-- One row per worker process, written when it starts, claims a job,
-- finishes one and every few seconds while alive (while busy, with the
-- job's heartbeat): /metrics shows the states per node and the newest
-- heartbeat of each node.  A worker that stops cleanly deletes its row;
-- one that died leaves it, with a heartbeat that stops moving (the
-- ExportdNodeSilent alert), until the supervisor restarts its slot.
CREATE TABLE exportd_workers (
    node         text NOT NULL CHECK (node <> ''),
    slot         integer NOT NULL CHECK (slot >= 0),
    pid          integer NOT NULL,
    state        text NOT NULL CHECK (state IN ('idle', 'busy')),
    job_id       uuid,
    since        timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, slot)
);

SELECT exportd_grant('worker', 'SELECT, INSERT, UPDATE ON exportd_counters');
SELECT exportd_grant('worker', 'SELECT, INSERT, UPDATE, DELETE ON exportd_workers');
SELECT exportd_grant('api', 'SELECT ON exportd_counters');
SELECT exportd_grant('api', 'SELECT ON exportd_workers');

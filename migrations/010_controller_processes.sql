-- Up Migration
-- Controller processes alive right now: each heartbeats its row. A process whose heartbeat is stale has died (kill -9,
-- node lost), and the graphile-worker pool it ran is force-unlocked by another process so its jobs run again without
-- waiting for graphile-worker's 4-hour lock timeout.
CREATE TABLE controller_processes (
  id text PRIMARY KEY,
  -- graphile-worker locks jobs with its worker pool id (locked_by).
  worker_pool_id text,
  hostname text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX controller_processes_heartbeat_idx ON controller_processes (heartbeat_at);

-- Down Migration
DROP TABLE controller_processes;

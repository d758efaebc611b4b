-- Up Migration
-- A run record is also a lease on its environment: the process running it (host name and pid) renews heartbeat_at
-- every few seconds. A running run whose owner is known dead (same host, pid gone) or whose heartbeat is older than
-- lease_ms is closed as interrupted by the next run of the environment, `politburo status` and the controller; until
-- then no other run of the environment starts (see reconciler/run-lock.ts).
ALTER TABLE runs
  ADD COLUMN owner_host text,
  ADD COLUMN owner_pid integer,
  ADD COLUMN heartbeat_at timestamptz DEFAULT now(),
  ADD COLUMN lease_ms integer CHECK (lease_ms > 0);

-- Down Migration
ALTER TABLE runs DROP COLUMN owner_host, DROP COLUMN owner_pid, DROP COLUMN heartbeat_at, DROP COLUMN lease_ms;

-- Up Migration
-- What happened to one node in one run: its state at the end, why, and its (redacted) log.
CREATE TABLE node_runs (
  run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  path text NOT NULL CHECK (path <> ''),
  host text,
  state lifecycle_state NOT NULL,
  reason text,
  started_at timestamptz,
  finished_at timestamptz,
  log text NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, path)
);

-- Down Migration
DROP TABLE node_runs;

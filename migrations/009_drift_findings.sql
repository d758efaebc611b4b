-- Up Migration
-- Unmet tasks found by a drift run (or a live plan), per node.
CREATE TABLE drift_findings (
  id bigserial PRIMARY KEY,
  run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  environment text NOT NULL,
  node_path text NOT NULL,
  task text NOT NULL,
  message text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX drift_findings_run_idx ON drift_findings (run_id, node_path);

-- Down Migration
DROP TABLE drift_findings;

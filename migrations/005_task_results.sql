-- Up Migration
-- Every task outcome of every node in every run; the source of the dashboard's "% successful runs".
CREATE TABLE task_results (
  id bigserial PRIMARY KEY,
  run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  node_path text NOT NULL,
  task text NOT NULL,
  outcome task_outcome NOT NULL,
  message text,
  duration_ms integer CHECK (duration_ms >= 0),
  started_at timestamptz,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX task_results_run_idx ON task_results (run_id, node_path, id);

-- Down Migration
DROP TABLE task_results;

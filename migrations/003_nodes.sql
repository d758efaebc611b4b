-- Up Migration
-- Recorded state of every node of an environment (docs/cli.md). Terminated nodes are deleted; their history stays in
-- node_runs. spec_hash is '' while nothing has been applied to the node yet. tasks is json, not jsonb: it is only ever
-- stored and read back whole, and json's output is a copy while jsonb's is a re-serialisation (a third of the time of
-- reading 10,000 nodes).
CREATE TABLE nodes (
  id bigserial PRIMARY KEY,
  environment_id bigint NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  path text NOT NULL CHECK (path <> ''),
  host text,
  port integer CHECK (port BETWEEN 1 AND 65535),
  ssh_user text,
  spec_hash text NOT NULL DEFAULT '',
  tasks json NOT NULL DEFAULT '[]' CHECK (json_typeof(tasks) = 'array'),
  state lifecycle_state NOT NULL,
  reason text,
  last_applied_commit text,
  last_run_id bigint REFERENCES runs (id) ON DELETE SET NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (environment_id, path)
);

CREATE INDEX nodes_last_run_id_idx ON nodes (last_run_id);

-- Down Migration
DROP TABLE nodes;

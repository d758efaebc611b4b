-- Up Migration
-- One recorded execution against hosts. Ids are a bigserial: they sort by creation time.
CREATE TABLE runs (
  id bigserial PRIMARY KEY,
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  environment_id bigint NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  commit text,
  kind text NOT NULL CHECK (kind IN ('apply', 'drift', 'plan-live')),
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
  trigger text NOT NULL DEFAULT '',
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  summary jsonb,
  CHECK ((status = 'running') = (finished_at IS NULL))
);

CREATE INDEX runs_environment_id_idx ON runs (environment_id, id DESC);
CREATE INDEX runs_repository_id_idx ON runs (repository_id, id DESC);
CREATE INDEX runs_running_idx ON runs (environment_id) WHERE status = 'running';

-- Down Migration
DROP TABLE runs;

-- Up Migration
-- Each check is created once on GitHub and then updated: this remembers its id (repository is the full name).
CREATE TABLE github_checks (
  id bigserial PRIMARY KEY,
  repository text NOT NULL,
  sha text NOT NULL,
  name text NOT NULL,
  check_run_id bigint,
  status text NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
  conclusion text CHECK (conclusion IN ('success', 'failure', 'cancelled', 'skipped', 'neutral', 'action_required', 'stale', 'timed_out')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (repository, sha, name)
);

-- Finding checks left pending by a crash.
CREATE INDEX github_checks_pending_idx ON github_checks (updated_at) WHERE status <> 'completed';

-- Down Migration
DROP TABLE github_checks;

-- Up Migration
-- GitHub Deployments (docs/controller.md, "Deployments on GitHub"): each apply of an environment at a commit is one
-- deployment on GitHub, created by the first of its writes and then given statuses. The row says which deployment
-- the statuses of (repository, environment, commit) go to, whichever process sends them and across restarts.
CREATE TABLE github_deployments (
  repository text NOT NULL,
  environment text NOT NULL,
  commit text NOT NULL,
  -- GitHub's deployment id; null when GitHub refused to create it (refused says why: no statuses are sent then).
  deployment_id bigint,
  refused text,
  -- The last status sent (a new deployment is `queued` until its first status), so an unchanged state is not resent.
  state text,
  log_url text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, environment, commit),
  CHECK ((deployment_id IS NULL) <> (refused IS NULL))
);

-- Deployments and their statuses are GitHub writes of their own; every earlier kind stays allowed.
ALTER TABLE github_writes DROP CONSTRAINT github_writes_kind_check;
ALTER TABLE github_writes ADD CONSTRAINT github_writes_kind_check
  CHECK (kind IN ('check', 'comment', 'reaction', 'drift-issue', 'reply', 'deployment'));

-- Down Migration
ALTER TABLE github_writes DROP CONSTRAINT github_writes_kind_check;
ALTER TABLE github_writes ADD CONSTRAINT github_writes_kind_check
  CHECK (kind IN ('check', 'comment', 'reaction', 'drift-issue', 'reply'));
DROP TABLE github_deployments;

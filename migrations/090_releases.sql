-- Up Migration
-- Manual environments (docs/language.md, "Apply policy"): a push that changes such an environment records a pending
-- release instead of queueing its apply; `/politburo apply ENV` releases it (released_by, released_at) and queues the
-- apply of that commit (docs/controller.md, "Releases"). repo is the repository reference the apply job needs.
CREATE TABLE releases (
  repository text NOT NULL,
  environment text NOT NULL,
  commit text NOT NULL,
  repo jsonb NOT NULL,
  plan_summary text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  released_by text,
  released_at timestamptz,
  -- A newer commit of the environment waits instead (it carries this one's changes): this one is never released.
  superseded_by text,
  PRIMARY KEY (repository, environment, commit)
);
CREATE INDEX releases_pending ON releases (repository, environment, created_at DESC) WHERE released_at IS NULL AND superseded_by IS NULL;

-- Comment commands are answered in their thread (a refusal's reason, a release, the help): a GitHub write of its own.
ALTER TABLE github_writes DROP CONSTRAINT github_writes_kind_check;
ALTER TABLE github_writes ADD CONSTRAINT github_writes_kind_check
  CHECK (kind IN ('check', 'comment', 'reaction', 'drift-issue', 'reply'));

-- Down Migration
ALTER TABLE github_writes DROP CONSTRAINT github_writes_kind_check;
ALTER TABLE github_writes ADD CONSTRAINT github_writes_kind_check
  CHECK (kind IN ('check', 'comment', 'reaction', 'drift-issue'));
DROP TABLE releases;

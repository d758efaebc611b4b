-- Up Migration
-- Lifecycle states of docs/language.md and task outcomes of docs/cli.md, shared by every table that records them.
CREATE DOMAIN lifecycle_state AS text CHECK (VALUE IN (
  'defined', 'provisioning', 'provisioned', 'configuring', 'ready',
  'failed', 'blocked', 'drifted', 'terminating', 'terminated'));

CREATE DOMAIN task_outcome AS text CHECK (VALUE IN ('already met', 'met', 'failed', 'unmet', 'skipped'));

-- A repository is identified by its origin URL, its absolute path (CLI) or its GitHub full name (controller).
CREATE TABLE repositories (
  id bigserial PRIMARY KEY,
  key text NOT NULL UNIQUE CHECK (key <> ''),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE environments (
  id bigserial PRIMARY KEY,
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name <> ''),
  last_applied_commit text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (repository_id, name)
);

-- Down Migration
DROP TABLE environments;
DROP TABLE repositories;
DROP DOMAIN task_outcome;
DROP DOMAIN lifecycle_state;

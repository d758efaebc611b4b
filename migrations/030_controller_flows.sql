-- Up Migration
-- Poll mode (docs/configuration.md): the branch head last seen per watched repository, so a restart does not re-apply old commits.
CREATE TABLE poll_heads (
  repository text NOT NULL,
  branch text NOT NULL,
  sha text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, branch)
);

-- What the controller knows of each open pull request (from pull_request events): `/politburo plan` comments carry no
-- head, and the fork check needs to know where the head lives.
CREATE TABLE pull_requests (
  repository text NOT NULL,
  pull_number integer NOT NULL CHECK (pull_number > 0),
  head_sha text NOT NULL,
  base_sha text NOT NULL,
  head_repository text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, pull_number)
);

-- Plans are keyed by (environment, base, head): a newer head's plan supersedes the older heads' plan checks.
CREATE TABLE pr_plans (
  repository text NOT NULL,
  pull_number integer NOT NULL CHECK (pull_number > 0),
  environment text NOT NULL,
  base_sha text NOT NULL,
  head_sha text NOT NULL,
  superseded boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, pull_number, environment, head_sha)
);

-- Drift schedules per environment, refreshed when a commit is applied; last_tick makes one replica win each tick.
CREATE TABLE drift_schedules (
  repository text NOT NULL,
  environment text NOT NULL,
  schedule text NOT NULL,
  heal boolean NOT NULL DEFAULT false,
  repo jsonb NOT NULL,
  last_tick timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, environment)
);

-- Down Migration
DROP TABLE drift_schedules;
DROP TABLE pr_plans;
DROP TABLE pull_requests;
DROP TABLE poll_heads;

-- Up Migration
-- The one sticky Politburo comment of each pull request.
CREATE TABLE pr_comments (
  repository text NOT NULL,
  pull_number integer NOT NULL CHECK (pull_number > 0),
  comment_id bigint NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, pull_number)
);

-- The one `politburo:drift` issue of each environment, opened while drift persists.
CREATE TABLE drift_issues (
  repository text NOT NULL,
  environment text NOT NULL,
  issue_number integer NOT NULL CHECK (issue_number > 0),
  open boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, environment)
);

-- Down Migration
DROP TABLE drift_issues;
DROP TABLE pr_comments;

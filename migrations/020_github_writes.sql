-- Up Migration
-- The durable write path to GitHub (controller/github/write-queue.ts). Every write goes out through one queue per
-- installation (`gh:<installation id>`, or `gh:token`), sent in order by whichever process holds that queue's
-- advisory lock. A newer write for the same check / comment / issue replaces an older unsent one (coalescing).
CREATE TABLE github_writes (
  id bigserial PRIMARY KEY,
  queue text NOT NULL CHECK (queue <> ''),
  -- What the write is about, e.g. `check:owner/repo:sha:politburo/production`; at most one unsent write per key.
  key text NOT NULL CHECK (key <> ''),
  kind text NOT NULL CHECK (kind IN ('check', 'comment', 'reaction', 'drift-issue')),
  payload jsonb NOT NULL,
  -- Bumped when a newer write is merged in, so a sender never deletes a write it has not sent.
  version integer NOT NULL DEFAULT 1,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  -- Set when GitHub refused the write for good (4xx other than rate limits): kept for inspection, never retried.
  failed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX github_writes_pending_key_idx ON github_writes (queue, key) WHERE failed_at IS NULL;
CREATE INDEX github_writes_queue_idx ON github_writes (queue, id) WHERE failed_at IS NULL;

-- Per queue: do not send before this time (GitHub said retry-after, or the rate limit is used up until its reset).
CREATE TABLE github_write_queues (
  queue text PRIMARY KEY,
  not_before timestamptz NOT NULL DEFAULT now(),
  rate_limit_remaining integer,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- What finishStaleChecks needs to finish a check left pending by a crash: where to send it.
ALTER TABLE github_checks ADD COLUMN installation_id bigint;
ALTER TABLE github_checks ADD COLUMN details_url text;
-- Hashes of the annotations a check run already has: GitHub appends annotations on every update, so a write that
-- was retried, or a re-plan of the same commit, must not send them again.
ALTER TABLE github_checks ADD COLUMN annotation_hashes text[] NOT NULL DEFAULT '{}';

-- Down Migration
ALTER TABLE github_checks DROP COLUMN annotation_hashes;
ALTER TABLE github_checks DROP COLUMN details_url;
ALTER TABLE github_checks DROP COLUMN installation_id;
DROP TABLE github_write_queues;
DROP TABLE github_writes;

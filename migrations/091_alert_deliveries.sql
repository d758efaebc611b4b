-- Up Migration
-- Outcome notifications (docs/controller.md, "Notifications"): one row per event and webhook URL. The job that has
-- something to say only inserts rows; controller/notify/delivery-worker.ts sends them (signed), retries with backoff
-- and survives restarts. A sender claims a row by moving next_attempt_at past its request timeout, so two replicas
-- never send the same row at once and a row claimed by a process that died is sent again.
CREATE TABLE alert_deliveries (
  id bigserial PRIMARY KEY,
  -- The event's `id` (the same for every URL it goes to, and across retries: receivers may deduplicate on it).
  event_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind <> ''),
  url text NOT NULL CHECK (url <> ''),
  -- The exact bytes sent (and signed) at every attempt.
  body text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  delivered_at timestamptz,
  -- Given up (a 4xx answer, or the last attempt failed): kept for inspection, never sent again.
  failed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, url)
);

CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_attempt_at)
  WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Down Migration
DROP TABLE alert_deliveries;

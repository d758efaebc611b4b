-- Up Migration
-- What people did from the dashboard (docs/controller.md, "The dashboard"): who, when, what, on which environment (and
-- run), and how it ended, refusals included with their reason.
CREATE TABLE dashboard_actions (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  login text NOT NULL,
  action text NOT NULL CHECK (action IN ('rerun', 'cancel', 'check-drift', 'heal', 'release')),
  repository text NOT NULL,
  environment text NOT NULL,
  run_id bigint,
  commit text,
  outcome text NOT NULL CHECK (outcome IN ('done', 'refused', 'failed')),
  message text NOT NULL
);

CREATE INDEX dashboard_actions_environment_idx ON dashboard_actions (repository, environment, id DESC);
CREATE INDEX dashboard_actions_run_idx ON dashboard_actions (run_id) WHERE run_id IS NOT NULL;

-- A cancel asked for from the dashboard: the process running the run (its owner) sees it and stops the run as Ctrl-C
-- does (controller/run-cancellation.ts).
ALTER TABLE runs
  ADD COLUMN cancel_requested_at timestamptz,
  ADD COLUMN cancel_requested_by text;

-- Down Migration
ALTER TABLE runs DROP COLUMN cancel_requested_at, DROP COLUMN cancel_requested_by;
DROP TABLE dashboard_actions;

-- Up Migration
-- Dashboard sign-in with GitHub (docs/controller.md, "The dashboard"): one row per signed-in browser. Only the SHA-256
-- of the session id is stored (the id itself lives in the browser's cookie only), with the GitHub login and the expiry;
-- the user's GitHub token is not kept. Signing out deletes the row; expired rows are deleted at the next sign-in.
CREATE TABLE dashboard_sessions (
  id_hash bytea PRIMARY KEY,
  login text NOT NULL CHECK (login <> ''),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

CREATE INDEX dashboard_sessions_expires_at_idx ON dashboard_sessions (expires_at);

-- Down Migration
DROP TABLE dashboard_sessions;

-- Up Migration
-- The last drift alert sent per environment: an alert goes out when drift appears or changes, not at every tick, and
-- once more when it is resolved.
CREATE TABLE drift_alerts (
  repository text NOT NULL,
  environment text NOT NULL,
  fingerprint text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, environment)
);

-- Down Migration
DROP TABLE drift_alerts;

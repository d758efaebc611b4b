-- Up Migration
-- The apply policy (docs/language.md, "Apply policy") of an environment as described at the commit the controller last
-- applied: the policy that governs the next push, read without checking that commit out again.
CREATE TABLE applied_policies (
  repository text NOT NULL,
  environment text NOT NULL,
  commit text NOT NULL,
  apply text NOT NULL CHECK (apply IN ('auto', 'manual')),
  suspend boolean NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, environment)
);

-- Down Migration
DROP TABLE applied_policies;

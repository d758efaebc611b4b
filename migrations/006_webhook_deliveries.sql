-- Up Migration
-- GitHub webhook deliveries, stored before the 2xx answer (docs/configuration.md); idempotent on X-GitHub-Delivery.
CREATE TABLE webhook_deliveries (
  delivery_id text PRIMARY KEY CHECK (delivery_id <> ''),
  event text NOT NULL,
  action text,
  repository text,
  installation_id bigint,
  payload jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  outcome text,
  error text
);

CREATE INDEX webhook_deliveries_unprocessed_idx ON webhook_deliveries (received_at) WHERE processed_at IS NULL;
CREATE INDEX webhook_deliveries_repository_idx ON webhook_deliveries (repository, received_at DESC);

-- Down Migration
DROP TABLE webhook_deliveries;

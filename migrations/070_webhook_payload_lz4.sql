-- Up Migration
-- Webhook payloads (7–25 kB of JSON each) are TOAST-compressed as they are stored; with the default pglz that
-- compression was the database's largest cost of webhook ingestion (bench/webhooks). lz4 does the same job several
-- times faster. Servers built without lz4 (and PostgreSQL before 14) keep the default.
DO $$
BEGIN
  IF 'lz4' = ANY (coalesce((SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'), '{}')) THEN
    ALTER TABLE webhook_deliveries ALTER COLUMN payload SET COMPRESSION lz4;
  END IF;
END
$$;

-- Down Migration
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 140000 THEN
    ALTER TABLE webhook_deliveries ALTER COLUMN payload SET COMPRESSION default;
  END IF;
END
$$;

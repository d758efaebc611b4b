-- Up Migration
-- The known_hosts line of a host key printed by a provider's create (docs/language.md), so later runs that reuse the recorded
-- address still trust the host. NULL for pre-allocated hosts and providers that print no key.
ALTER TABLE nodes ADD COLUMN host_key text;

-- Down Migration
ALTER TABLE nodes DROP COLUMN host_key;

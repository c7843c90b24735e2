-- The Postgres schema, with the heartbeat as microseconds since the Unix epoch.
ALTER TABLE builds ADD COLUMN lease_owner TEXT;
ALTER TABLE builds ADD COLUMN lease_heartbeat_at INTEGER;

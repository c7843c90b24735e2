-- What kind of request a container record is, as the Wave API reports it: a freeze or mirror request (durable, no
-- token), whether it started a new build (build_new), its scan, and the client's fingerprint. NULL for records
-- written before this migration (an augmentation or an ephemeral build).
ALTER TABLE container_requests ADD COLUMN is_freeze INTEGER;
ALTER TABLE container_requests ADD COLUMN is_mirror INTEGER;
ALTER TABLE container_requests ADD COLUMN build_new INTEGER;
ALTER TABLE container_requests ADD COLUMN scan_id TEXT;
ALTER TABLE container_requests ADD COLUMN fingerprint TEXT;

-- The lease of a running build: which builder process runs it now (lease_owner, its instance id) and when that builder
-- last said so (lease_heartbeat_at). A builder takes the lease before it runs a build and renews it while it runs;
-- another builder takes it over only once the heartbeat is older than the lease timeout (its owner died), so that one
-- build never runs on two builders at once. Both are NULL for a build nobody holds (pending, released or completed).
ALTER TABLE builds ADD COLUMN lease_owner TEXT;
ALTER TABLE builds ADD COLUMN lease_heartbeat_at TIMESTAMPTZ;

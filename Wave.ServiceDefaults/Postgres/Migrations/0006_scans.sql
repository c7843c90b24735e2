-- Security scans: one row per scan attempt (sc-<key>_<attempt>), the SBOM as SPDX JSON text, and the lease of a pending
-- scan (the process running it and its last heartbeat) so that a scan whose runner died is taken over.
CREATE TABLE scans (
    id                 TEXT PRIMARY KEY,
    scan_key           TEXT NOT NULL,
    attempt            INTEGER NOT NULL,
    build_id           TEXT,
    mirror_id          TEXT,
    request_id         TEXT,
    container_image    TEXT NOT NULL,
    platform           TEXT NOT NULL,
    status             TEXT NOT NULL,
    start_time         TIMESTAMPTZ NOT NULL,
    duration_ms        BIGINT,
    vulnerabilities    TEXT,
    summary            TEXT,
    package_count      INTEGER,
    exit_code          INTEGER,
    logs               TEXT,
    spdx               TEXT,
    lease_owner        TEXT,
    lease_heartbeat_at TIMESTAMPTZ,
    UNIQUE (scan_key, attempt)
);

CREATE INDEX scans_pending ON scans (start_time) WHERE status = 'PENDING';

-- A container request's scan mode and allowed levels (JSON array), which decide whether its image is released.
ALTER TABLE container_requests ADD COLUMN scan_mode TEXT;
ALTER TABLE container_requests ADD COLUMN scan_levels TEXT;

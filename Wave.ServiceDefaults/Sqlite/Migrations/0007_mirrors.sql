-- The Postgres schema, with timestamps as microseconds since the Unix epoch and booleans as 0/1.
CREATE TABLE mirrors (
    mirror_id          TEXT PRIMARY KEY,
    content_id         TEXT NOT NULL,
    source_image       TEXT NOT NULL,
    source_digest      TEXT NOT NULL,
    target_image       TEXT NOT NULL,
    platform           TEXT,
    status             TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED')),
    succeeded          INTEGER,
    failure_reason     TEXT,
    digest             TEXT,
    user_id            TEXT,
    user_name          TEXT,
    user_email         TEXT,
    request_ip         TEXT,
    offset_id          TEXT,
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    completed_at       INTEGER,
    duration_ms        INTEGER,
    attempt            INTEGER NOT NULL,
    blobs_copied       INTEGER NOT NULL DEFAULT 0,
    blobs_skipped      INTEGER NOT NULL DEFAULT 0,
    bytes_copied       INTEGER NOT NULL DEFAULT 0,
    manifests          INTEGER NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_heartbeat_at INTEGER,
    log                TEXT NOT NULL DEFAULT '',
    log_length         INTEGER NOT NULL DEFAULT 0,
    log_truncated      INTEGER NOT NULL DEFAULT 0,
    job                TEXT NOT NULL
);

CREATE INDEX mirrors_by_content ON mirrors (content_id, attempt DESC);
CREATE INDEX mirrors_unfinished ON mirrors (created_at) WHERE status <> 'COMPLETED';

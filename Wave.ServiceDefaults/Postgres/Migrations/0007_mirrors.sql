-- Container mirrors: one row per attempt (mr-<contentId>_<attempt>), with the job that runs it, its lease and its log.
CREATE TABLE mirrors (
    mirror_id          TEXT PRIMARY KEY,
    content_id         TEXT NOT NULL,
    source_image       TEXT NOT NULL,
    source_digest      TEXT NOT NULL,
    target_image       TEXT NOT NULL,
    platform           TEXT,
    status             TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED')),
    succeeded          BOOLEAN,
    failure_reason     TEXT,
    digest             TEXT,
    user_id            TEXT,
    user_name          TEXT,
    user_email         TEXT,
    request_ip         TEXT,
    offset_id          TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    started_at         TIMESTAMPTZ,
    completed_at       TIMESTAMPTZ,
    duration_ms        BIGINT,
    attempt            INTEGER NOT NULL,
    blobs_copied       INTEGER NOT NULL DEFAULT 0,
    blobs_skipped      INTEGER NOT NULL DEFAULT 0,
    bytes_copied       BIGINT NOT NULL DEFAULT 0,
    manifests          INTEGER NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_heartbeat_at TIMESTAMPTZ,
    log                TEXT NOT NULL DEFAULT '',
    log_length         BIGINT NOT NULL DEFAULT 0,
    log_truncated      BOOLEAN NOT NULL DEFAULT FALSE,
    job                TEXT NOT NULL
);

CREATE INDEX mirrors_by_content ON mirrors (content_id, attempt DESC);
CREATE INDEX mirrors_unfinished ON mirrors (created_at) WHERE status <> 'COMPLETED';

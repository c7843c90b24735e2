-- The Postgres schema, with timestamps as microseconds since the Unix epoch and booleans as 0/1.
CREATE TABLE builds (
    build_id       TEXT PRIMARY KEY,
    container_id   TEXT NOT NULL,
    target_image   TEXT NOT NULL,
    dockerfile     TEXT,
    conda_file     TEXT,
    spack_file     TEXT,
    platform       TEXT NOT NULL,
    format         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED')),
    succeeded      INTEGER,
    exit_code      INTEGER,
    failure_reason TEXT,
    image_digest   TEXT,
    user_name      TEXT,
    user_email     TEXT,
    request_ip     TEXT,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    completed_at   INTEGER,
    duration_ms    INTEGER,
    attempt        INTEGER NOT NULL,
    log_length     INTEGER NOT NULL DEFAULT 0,
    log_truncated  INTEGER NOT NULL DEFAULT 0,
    conda_lock     TEXT
);

CREATE INDEX builds_by_container ON builds (container_id, attempt DESC);
CREATE INDEX builds_unfinished ON builds (created_at) WHERE status <> 'COMPLETED';

CREATE TABLE build_log_chunks (
    build_id     TEXT NOT NULL REFERENCES builds (build_id) ON DELETE CASCADE,
    start_offset INTEGER NOT NULL,
    length       INTEGER NOT NULL,
    text         TEXT NOT NULL,
    PRIMARY KEY (build_id, start_offset)
);

-- The Postgres schema, with timestamps as microseconds since the Unix epoch.
CREATE TABLE container_requests (
    token              TEXT PRIMARY KEY,
    user_id            TEXT,
    user_name          TEXT,
    user_email         TEXT,
    workspace_id       INTEGER,
    platform_endpoint  TEXT,
    request_ip         TEXT,
    source_image       TEXT NOT NULL,
    source_digest      TEXT,
    target_image       TEXT NOT NULL,
    served_digest      TEXT,
    platform           TEXT,
    container_config   TEXT,
    build_id           TEXT,
    credentials_source TEXT,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    revoked_at         INTEGER
);

CREATE INDEX container_requests_by_user ON container_requests (user_id, created_at);
CREATE INDEX container_requests_by_build ON container_requests (build_id) WHERE build_id IS NOT NULL;

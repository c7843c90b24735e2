-- The job of each build as queued (JSON), so that a build whose queued message was lost with its process (the
-- embedded mode's in-process queue) can be queued again when the service restarts.
CREATE TABLE build_jobs (
    build_id TEXT PRIMARY KEY REFERENCES builds (build_id) ON DELETE CASCADE,
    job      TEXT NOT NULL
);

-- A build's or a mirror's record shows the scan of its image: the scans are found by the build or mirror they were
-- started for.
CREATE INDEX scans_build_id ON scans (build_id) WHERE build_id IS NOT NULL;
CREATE INDEX scans_mirror_id ON scans (mirror_id) WHERE mirror_id IS NOT NULL;

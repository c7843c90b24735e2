-- The id of the user who asked for a build (Seqera Platform's user id, or an API key holder's), shown on the build
-- record to anyone, as the Wave server's WaveBuildRecord.userId is; their name and email stay for admins. NULL for
-- builds recorded before this migration and for anonymous requests.
ALTER TABLE builds ADD COLUMN user_id TEXT;

-- Unfinished multipart uploads into masters, as the orphan sweep first saw them. The sweep
-- aborts one once it has been pending for the grace period since then: S3's own start time
-- cannot be trusted everywhere (moto reports a fixed date in 2010), so it is not used.
CREATE TABLE IF NOT EXISTS pending_uploads (
    upload_id   text PRIMARY KEY,
    key         text NOT NULL,
    first_seen  timestamptz NOT NULL
);

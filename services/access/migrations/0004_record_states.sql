-- The workflow state of each catalogue record: a projection of catalogue.record_* events, so
-- that the images of a record the public may not see (draft, in review, withdrawn, deleted)
-- are served to staff only unless the asset has a policy of its own
-- (docs/decisions/034-access-unpublished-records-assets.md). A deleted record stays deleted.
CREATE TABLE IF NOT EXISTS record_states (
    record_id   text PRIMARY KEY,
    state       text NOT NULL,
    version     integer NOT NULL,
    updated_at  timestamptz NOT NULL
);

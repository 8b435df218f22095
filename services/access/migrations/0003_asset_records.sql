-- Which record each media asset belongs to: a projection of media.asset_ingested (and
-- media.asset_deleted), so that an asset without a policy of its own inherits its record's
-- (docs/decisions/022-imageserver-access.md). A deleted asset keeps its row: its files live
-- until the purge, and they must stay as closed as their record.
CREATE TABLE IF NOT EXISTS asset_records (
    asset_id    text PRIMARY KEY,
    record_id   text NOT NULL,
    deleted     boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS asset_records_record ON asset_records (record_id);

-- projection of the media service's asset events: which records have images (the has_images facet)
CREATE TABLE IF NOT EXISTS record_assets (
    asset_id   uuid PRIMARY KEY,
    record_id  uuid NOT NULL,
    kind       text NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS record_assets_record ON record_assets (record_id);

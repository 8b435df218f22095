-- The media service's tables: assets (one row per asset, its current version), every stored
-- version of a master, and the preservation log (PREMIS-style events).

CREATE TABLE IF NOT EXISTS assets (
    id              uuid PRIMARY KEY,
    record_id       uuid NOT NULL,
    status          text NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
    kind            text NOT NULL,
    format          text NOT NULL,
    mime_type       text NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    master_key      text NOT NULL,
    size            bigint NOT NULL,
    sha256          text NOT NULL,
    filename        text NOT NULL DEFAULT '',
    position        integer NOT NULL DEFAULT 0,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    technical       jsonb NOT NULL DEFAULT '{}'::jsonb,
    width           integer,
    height          integer,
    levels          integer,
    failure_reason  text,
    fixity_status   text NOT NULL DEFAULT 'unchecked'
                        CHECK (fixity_status IN ('unchecked', 'ok', 'failed')),
    fixity_checked_at timestamptz,
    deleted_at      timestamptz,
    purge_after     timestamptz,
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS assets_record ON assets (record_id, position);

CREATE TABLE IF NOT EXISTS asset_versions (
    asset_id    uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    version     integer NOT NULL,
    master_key  text NOT NULL,
    format      text NOT NULL,
    size        bigint NOT NULL,
    sha256      text NOT NULL,
    filename    text NOT NULL DEFAULT '',
    created_by  text NOT NULL DEFAULT 'system',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset_id, version)
);

CREATE TABLE IF NOT EXISTS preservation_events (
    id          bigserial PRIMARY KEY,
    asset_id    uuid NOT NULL,
    event_type  text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    agent       text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('success', 'failure', 'warning')),
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS preservation_events_asset ON preservation_events (asset_id, id);

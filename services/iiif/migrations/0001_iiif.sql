-- The iiif service's own tables: projections of catalogue records, media assets and access
-- policies; the manifests built from them; the canvases they show; the Change Discovery stream.

-- projection of catalogue.* events (the document itself is asked of the catalogue by RPC)
CREATE TABLE IF NOT EXISTS records (
    record_id      uuid PRIMARY KEY,
    state          text NOT NULL,
    version        integer NOT NULL,
    heritage_class text NOT NULL,
    doc            jsonb,                    -- the record as the catalogue returned it
    deleted        boolean NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS records_state ON records (state) WHERE NOT deleted;

-- projection of access.policy_changed for records (may arrive before the record)
CREATE TABLE IF NOT EXISTS policies (
    record_id     text PRIMARY KEY,
    level         text NOT NULL,
    embargo_until timestamptz,
    updated_at    timestamptz NOT NULL
);

-- projection of media.* events: what each asset is and its dimensions recorded at ingest
CREATE TABLE IF NOT EXISTS assets (
    asset_id   uuid PRIMARY KEY,
    record_id  uuid NOT NULL,
    kind       text NOT NULL DEFAULT 'unknown',    -- image, pdf, audio, video, model
    format     text,
    mime_type  text,
    position   integer NOT NULL DEFAULT 0,
    metadata   jsonb NOT NULL DEFAULT '{}',     -- the uploader's metadata (label, section)
    status     text NOT NULL DEFAULT 'ingested',   -- ingested, ready, failed, deleted
    width      integer,
    height     integer,
    duration   double precision,
    pages      jsonb,                              -- PDF: [{"page", "width", "height"}]
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS assets_record ON assets (record_id, created_at);

-- the canvases of each record's manifest (annotation targets are checked against these)
CREATE TABLE IF NOT EXISTS canvases (
    canvas_id text PRIMARY KEY,               -- the canvas URL
    record_id uuid NOT NULL,
    asset_id  uuid NOT NULL,
    page      integer NOT NULL DEFAULT 0,     -- PDF page number, 0 otherwise
    position  integer NOT NULL,
    width     integer,
    height    integer,
    duration  double precision
);
CREATE INDEX IF NOT EXISTS canvases_record ON canvases (record_id, position);

-- the built manifests, served as stored; stale rows are rebuilt by the service
CREATE TABLE IF NOT EXISTS manifests (
    record_id    uuid PRIMARY KEY,
    body         text NOT NULL,
    etag         text NOT NULL,
    public       boolean NOT NULL,            -- readable by anyone (no policy restriction)
    stale        boolean NOT NULL DEFAULT false,
    heritage_class text NOT NULL,
    collections  text[] NOT NULL DEFAULT '{}',
    title_sort   text NOT NULL DEFAULT '',
    label        jsonb NOT NULL DEFAULT '{}',
    built_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS manifests_collections ON manifests USING gin (collections);
CREATE INDEX IF NOT EXISTS manifests_stale ON manifests (record_id) WHERE stale;

-- vocabulary labels asked of the catalogue (ranks, districts, lists: collection labels, metadata)
CREATE TABLE IF NOT EXISTS labels (
    scheme text NOT NULL,
    code   text NOT NULL,
    labels jsonb NOT NULL,
    PRIMARY KEY (scheme, code)
);

-- IIIF Change Discovery 1.0: every Create/Update/Delete of a manifest or collection, in order
CREATE TABLE IF NOT EXISTS activities (
    seq         bigserial PRIMARY KEY,
    type        text NOT NULL CHECK (type IN ('Create', 'Update', 'Delete')),
    object_id   text NOT NULL,
    object_type text NOT NULL CHECK (object_type IN ('Manifest', 'Collection')),
    end_time    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The catalogue's own tables: records, their versions, vocabularies, the policy projection.

-- unaccent() is STABLE (it reads a dictionary); an index needs an IMMUTABLE function, so the
-- dictionary is named explicitly and the wrapper is declared immutable.
CREATE OR REPLACE FUNCTION disan_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

CREATE OR REPLACE FUNCTION disan_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(disan_unaccent($1)) $$;

CREATE TABLE IF NOT EXISTS records (
    id               uuid PRIMARY KEY,
    inventory_number text NOT NULL,
    heritage_class   text NOT NULL CHECK (heritage_class IN
                         ('tangible_site', 'intangible', 'museum_object', 'documentary')),
    state            text NOT NULL CHECK (state IN ('draft', 'in_review', 'published', 'withdrawn')),
    version          integer NOT NULL,
    data             jsonb NOT NULL,
    -- denormalised for search and facets
    title_sort       text NOT NULL,
    rank             text,
    district         text,
    unesco           boolean NOT NULL DEFAULT false,
    has_images       boolean NOT NULL DEFAULT false,
    lat              double precision,
    lon              double precision,
    search_text      text NOT NULL,
    search_vector    tsvector GENERATED ALWAYS AS (to_tsvector('simple', disan_fold(search_text))) STORED,
    access_level     text NOT NULL DEFAULT 'public',
    embargo_until    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_inventory ON records (lower(inventory_number));
CREATE INDEX IF NOT EXISTS records_search ON records USING gin (search_vector);
CREATE INDEX IF NOT EXISTS records_facets ON records (state, heritage_class, rank, district);
CREATE INDEX IF NOT EXISTS records_geo ON records (lat, lon) WHERE lat IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_title ON records (title_sort, id);
CREATE INDEX IF NOT EXISTS records_updated ON records (updated_at, id);

-- every change, as a full snapshot: diffable and restorable
CREATE TABLE IF NOT EXISTS record_versions (
    record_id        uuid NOT NULL,
    version          integer NOT NULL,
    action           text NOT NULL,
    state            text NOT NULL,
    inventory_number text NOT NULL,
    data             jsonb NOT NULL,
    comment          text NOT NULL DEFAULT '',
    changed_by       text NOT NULL,
    changed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (record_id, version)
);

CREATE TABLE IF NOT EXISTS vocabulary_terms (
    scheme     text NOT NULL,
    code       text NOT NULL,
    labels     jsonb NOT NULL,
    broader    text,
    note       jsonb,
    added_by   text NOT NULL DEFAULT 'seed',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scheme, code)
);

-- projection of access.policy_changed for records (the access service owns the policies)
CREATE TABLE IF NOT EXISTS record_policies (
    record_id     text PRIMARY KEY,
    level         text NOT NULL,
    embargo_until timestamptz,
    updated_at    timestamptz NOT NULL
);

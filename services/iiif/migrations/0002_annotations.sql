-- Researchers' annotations (W3C Web Annotation) on the canvases of the manifests, the research
-- groups that share them, and what Content Search 2.0 needs (diacritic-insensitive matching).

-- unaccent() is STABLE; an index needs an IMMUTABLE function, so the dictionary is named
-- explicitly (the same definition as the catalogue's, in this service's own schema).
CREATE OR REPLACE FUNCTION disan_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

CREATE OR REPLACE FUNCTION disan_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(disan_unaccent($1)) $$;

CREATE TABLE IF NOT EXISTS annotations (
    annotation_id uuid PRIMARY KEY,
    record_id     uuid NOT NULL,
    canvas_id     text NOT NULL,               -- the canvas URL targeted
    canvas_key    text NOT NULL,               -- the canvas's container name in URLs
    x             integer,
    y             integer,
    w             integer,
    h             integer,
    motivation    text NOT NULL CHECK (motivation IN
                      ('commenting', 'tagging', 'describing', 'transcribing')),
    bodies        jsonb NOT NULL,              -- TextualBody objects as served (text, not markup)
    body_text     text NOT NULL,               -- every body's value, for search
    visibility    text NOT NULL CHECK (visibility IN ('private', 'group', 'public')),
    grp           text,
    line          integer,                     -- transcription line number on its canvas
    author_id     text NOT NULL,               -- the user's id (server-recorded, never the client's)
    author_name   text NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((visibility = 'group') = (grp IS NOT NULL)),
    CHECK ((x IS NULL) = (w IS NULL) AND (y IS NULL) = (h IS NULL) AND (x IS NULL) = (y IS NULL))
);
CREATE INDEX IF NOT EXISTS annotations_canvas
    ON annotations (record_id, canvas_key, line, created_at, annotation_id);
CREATE INDEX IF NOT EXISTS annotations_public ON annotations (record_id) WHERE visibility = 'public';
CREATE INDEX IF NOT EXISTS annotations_text
    ON annotations USING gin (disan_fold(body_text) public.gin_trgm_ops);

-- research groups (projects): annotations with visibility 'group' are read by its members
CREATE TABLE IF NOT EXISTS annotation_groups (
    name       text PRIMARY KEY,
    label      jsonb NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS annotation_group_members (
    grp     text NOT NULL REFERENCES annotation_groups (name) ON DELETE CASCADE,
    user_id text NOT NULL,
    PRIMARY KEY (grp, user_id)
);
CREATE INDEX IF NOT EXISTS annotation_group_members_user ON annotation_group_members (user_id);

-- Content Search matches the folded text (lower + unaccent) of annotations: store it once per
-- write instead of folding every row on every query, and index it with trigrams.
ALTER TABLE annotations
    ADD COLUMN IF NOT EXISTS body_fold text GENERATED ALWAYS AS (disan_fold(body_text)) STORED;
DROP INDEX IF EXISTS annotations_text;
CREATE INDEX IF NOT EXISTS annotations_fold ON annotations USING gin (body_fold public.gin_trgm_ops);

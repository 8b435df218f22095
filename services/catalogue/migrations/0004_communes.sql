-- communes are vocabulary terms (schemes commune_pre2025 and commune_current, ADR 043):
-- the pre-2025 commune's code is a facet column like the district
ALTER TABLE records ADD COLUMN IF NOT EXISTS commune text;
UPDATE records SET commune = data -> 'address' -> 'commune_pre2025' ->> 'code'
 WHERE commune IS NULL AND jsonb_typeof(data -> 'address' -> 'commune_pre2025') = 'object';
CREATE INDEX IF NOT EXISTS records_commune ON records (state, commune);

-- the 2025 reform (ADR 046): a pre-2025 commune names the current commune that took it in whole
-- (NULL where it was divided between several, and for every other term)
ALTER TABLE vocabulary_terms ADD COLUMN IF NOT EXISTS replaced_by text;

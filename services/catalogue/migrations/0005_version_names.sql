-- history names who changed each version (the principal's name beside its subject), issue 15;
-- versions written before keep a NULL name and are shown with the subject
ALTER TABLE record_versions ADD COLUMN IF NOT EXISTS changed_by_name text;

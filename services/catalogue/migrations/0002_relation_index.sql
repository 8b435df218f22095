-- find the records that point at a record (a festival held at a site, an object kept at a museum)
CREATE INDEX IF NOT EXISTS records_relations ON records USING gin ((data -> 'relations') jsonb_path_ops);

-- the latest activity of one object (a collection's Create/Delete, a manifest's history)
CREATE INDEX IF NOT EXISTS activities_object ON activities (object_id, seq);

-- an embargo that has ended is applied once by the embargo timer (services/iiif/service.py):
-- the record's manifest is rebuilt and the policy marked released; a new policy clears the mark
ALTER TABLE policies ADD COLUMN IF NOT EXISTS embargo_released boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS policies_embargo_due ON policies (embargo_until)
    WHERE level = 'embargoed' AND NOT embargo_released;

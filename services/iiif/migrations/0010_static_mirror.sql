-- records whose manifest file (ADR 061) must be rewritten or removed; rows appear when the
-- change commits, and the mirror takes them in its own transaction (SKIP LOCKED)
CREATE TABLE IF NOT EXISTS mirror_queue (
    record_id uuid PRIMARY KEY,
    queued_at timestamptz NOT NULL DEFAULT now()
);

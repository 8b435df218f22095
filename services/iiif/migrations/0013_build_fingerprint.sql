-- which manifest builder (its code and the public URL) built the stored manifests: when a new
-- release or another DISAN_PUBLIC_URL starts, every manifest is marked stale and rebuilt
CREATE TABLE IF NOT EXISTS build_state (
    id          integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    fingerprint text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

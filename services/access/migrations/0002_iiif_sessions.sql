-- IIIF Authorization Flow 2.0: the sessions behind the access service's cookie
-- (docs/decisions/032-iiif-auth-flow.md). The cookie holds the secret; only its SHA-256 is kept.
CREATE TABLE IF NOT EXISTS iiif_sessions (
    id          uuid PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    user_id     uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS iiif_sessions_user ON iiif_sessions (user_id) WHERE revoked_at IS NULL;

-- access tokens handed out by the token service, so that logging out refuses them at once
CREATE TABLE IF NOT EXISTS iiif_session_tokens (
    session_id  uuid NOT NULL REFERENCES iiif_sessions (id),
    jti         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (session_id, jti)
);

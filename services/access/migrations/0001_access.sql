-- The access service's own tables: users, API keys, refresh tokens, item policies, audit log.
CREATE TABLE IF NOT EXISTS users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL UNIQUE,  -- normalised (NFKC, case-folded, ASCII)
    display_name  text NOT NULL DEFAULT '',
    password_hash text NOT NULL,         -- argon2id
    roles         text[] NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE IF NOT EXISTS api_keys (
    id           uuid PRIMARY KEY,
    prefix       text NOT NULL UNIQUE,   -- public part of the key, for lookup
    secret_hash  text NOT NULL,          -- SHA-256 of the whole key
    name         text NOT NULL,
    roles        text[] NOT NULL,
    scopes       text[] NOT NULL DEFAULT '{}',
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE IF NOT EXISTS refresh_tokens (
    id          uuid PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    user_id     uuid NOT NULL REFERENCES users (id),
    family      uuid NOT NULL,           -- one login; reuse of a spent token revokes the family
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE IF NOT EXISTS policies (
    resource_kind text NOT NULL CHECK (resource_kind IN ('record', 'asset')),
    resource_id   text NOT NULL,
    level         text NOT NULL CHECK (level IN ('public', 'restricted', 'embargoed', 'staff_only')),
    embargo_until timestamptz,
    reason        text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text NOT NULL,
    PRIMARY KEY (resource_kind, resource_id),
    CHECK ((level = 'embargoed') = (embargo_until IS NOT NULL))
);

-- a projection of the access.* events, fed by the service's own handler
CREATE TABLE IF NOT EXISTS audit_log (
    event_id    uuid PRIMARY KEY,
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    actor       text NOT NULL,
    data        jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (occurred_at DESC);
CREATE INDEX IF NOT EXISTS audit_log_type ON audit_log (type, occurred_at DESC);

-- Creating RPCs remembered by request key (shared/idempotency.py, ADR 0010): a redelivered or
-- repeated request finds the result of the first instead of acting twice.
CREATE TABLE IF NOT EXISTS idempotent_requests (
    key          text NOT NULL,
    method       text NOT NULL,
    fingerprint  text NOT NULL,
    result       text,  -- the reply as the RPC serialiser wrote it (kombu JSON)
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, method)
);
CREATE INDEX IF NOT EXISTS idempotent_requests_age ON idempotent_requests (created_at);

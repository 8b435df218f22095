-- The notifications service's tables: the append-only event journal, webhook subscriptions and
-- their deliveries, e-mail preferences of staff users and the e-mails sent or held for a digest.

-- every domain event, once (event_id), in arrival order (seq); never updated nor deleted
CREATE TABLE IF NOT EXISTS journal (
    seq             bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    type            text NOT NULL,
    version         integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    producer        text NOT NULL,
    actor           text NOT NULL,
    correlation_id  text NOT NULL,
    record_id       uuid,
    asset_id        uuid,
    data            jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_type ON journal (type, seq);
CREATE INDEX IF NOT EXISTS journal_occurred ON journal (occurred_at);
CREATE INDEX IF NOT EXISTS journal_recorded ON journal (recorded_at);
CREATE INDEX IF NOT EXISTS journal_record ON journal (record_id, seq) WHERE record_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS journal_asset ON journal (asset_id, seq) WHERE asset_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS journal_actor ON journal (actor, seq);

CREATE OR REPLACE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event journal is append-only';
END $$;
DROP TRIGGER IF EXISTS journal_no_change ON journal;
CREATE TRIGGER journal_no_change BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();

CREATE TABLE IF NOT EXISTS subscriptions (
    id                   uuid PRIMARY KEY,
    owner                text NOT NULL,          -- principal subject: key:ID or user:ID
    owner_name           text NOT NULL DEFAULT '',
    url                  text NOT NULL,
    events               text[] NOT NULL,
    filters              jsonb NOT NULL DEFAULT '{}'::jsonb,
    secret               text NOT NULL,          -- kept to sign; never returned after creation
    contact_email        text NOT NULL DEFAULT '',
    description          text NOT NULL DEFAULT '',
    state                text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused')),
    paused_reason        text NOT NULL DEFAULT '',
    consecutive_failures integer NOT NULL DEFAULT 0,
    pause_announced      boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz
);
CREATE INDEX IF NOT EXISTS subscriptions_owner ON subscriptions (owner) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS deliveries (
    id              uuid PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    envelope        jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text NOT NULL DEFAULT '',
    last_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_history ON deliveries (subscription_id, created_at DESC);

-- each delivery attempt, for the partner's delivery history
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id            bigserial PRIMARY KEY,
    delivery_id   uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    status        integer,
    error         text NOT NULL DEFAULT '',
    duration_ms   integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS delivery_attempts_of ON delivery_attempts (delivery_id, attempt);

-- e-mail settings of staff users (the access service knows users and roles, not addresses)
CREATE TABLE IF NOT EXISTS email_preferences (
    user_id     text PRIMARY KEY,
    username    text NOT NULL DEFAULT '',
    email       text NOT NULL,
    language    text NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    digest      boolean NOT NULL DEFAULT false,
    enabled     boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- what happened that someone should be told about; the mail worker resolves recipients
CREATE TABLE IF NOT EXISTS mail_jobs (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    event_id    uuid,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    done_at     timestamptz,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text NOT NULL DEFAULT '',
    UNIQUE (kind, event_id)
);
CREATE INDEX IF NOT EXISTS mail_jobs_pending ON mail_jobs (id) WHERE done_at IS NULL;

-- one e-mail to one address: sent at once, or held for the recipient's daily digest
CREATE TABLE IF NOT EXISTS emails (
    id          bigserial PRIMARY KEY,
    job_id      bigint REFERENCES mail_jobs (id),
    kind        text NOT NULL,
    recipient   text NOT NULL,
    user_id     text NOT NULL DEFAULT '',
    language    text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    status      text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'held', 'sent', 'failed', 'digested')),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    UNIQUE (job_id, recipient)
);
CREATE INDEX IF NOT EXISTS emails_pending ON emails (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS emails_held ON emails (recipient) WHERE status = 'held';

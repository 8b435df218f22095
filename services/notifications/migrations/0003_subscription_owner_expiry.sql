-- When the API key that owns a subscription expires (from its access.api_key_created event):
-- from then on the subscription is paused like one whose key was revoked (issue 14).
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS owner_expires_at timestamptz;

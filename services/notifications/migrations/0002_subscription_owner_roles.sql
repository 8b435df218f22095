-- The roles of a subscription's owner, under which its deliveries are decided by the access
-- policy of each record (issue 14). Subscriptions made before this column see only what the
-- public sees until their owner subscribes again: fail closed.
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS owner_roles text[] NOT NULL DEFAULT '{}';

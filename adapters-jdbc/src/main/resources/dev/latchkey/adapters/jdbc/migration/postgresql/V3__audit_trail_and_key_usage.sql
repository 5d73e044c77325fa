-- Latchkey identity store, schema version 3, PostgreSQL: the audit trail and last-used times. See docs/storage-jdbc.md.
-- Both tables start empty: writes committed before this version have no audit record, and no key has a recorded use.

-- the audit trail: one row per committed write, at its feed position, inserted by the write's own transaction with
-- its row of latchkey_feed (the change's columns, copied, then where the write came from). The feed's compaction
-- leaves it alone; the store's purge deletes the rows committed before the retention's horizon.
CREATE TABLE latchkey_audit (
    feed_position    BIGINT NOT NULL,
    change_type      VARCHAR(32) NOT NULL,
    account_id       VARCHAR(128) COLLATE "C" NOT NULL,
    user_id          VARCHAR(128) COLLATE "C",
    key_ids          TEXT NOT NULL,
    committed_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    -- root, admin, user or system; an admin or user actor has an account and a user, and maybe the key it presented
    actor_kind       VARCHAR(16) NOT NULL,
    actor_account_id VARCHAR(128) COLLATE "C",
    actor_user_id    VARCHAR(128) COLLATE "C",
    actor_key_id     VARCHAR(16) COLLATE "C",
    instance_id      VARCHAR(128) NOT NULL,
    request_id       VARCHAR(128) NOT NULL,
    CONSTRAINT latchkey_audit_pk PRIMARY KEY (feed_position),
    CONSTRAINT latchkey_audit_actor_kind_ck CHECK (actor_kind IN ('root', 'admin', 'user', 'system'))
);

-- one account's trail, newest first
CREATE INDEX latchkey_audit_account_ix ON latchkey_audit (account_id, feed_position);
-- the purge, by commit time
CREATE INDEX latchkey_audit_committed_ix ON latchkey_audit (committed_at);

-- when each key was last used: the latest of the instants every instance reported. Not part of the feed nor of the
-- audit trail; the row goes with its key.
CREATE TABLE latchkey_key_usage (
    key_id       VARCHAR(16) COLLATE "C" NOT NULL,
    last_used_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT latchkey_key_usage_pk PRIMARY KEY (key_id),
    CONSTRAINT latchkey_key_usage_key_fk FOREIGN KEY (key_id) REFERENCES latchkey_key (key_id) ON DELETE CASCADE
);

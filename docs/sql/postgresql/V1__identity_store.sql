-- Latchkey identity store, schema version 1, PostgreSQL. See docs/storage-jdbc.md.
-- Ids are compared and sorted byte by byte (COLLATE "C"): they are case sensitive and list in ordinal order.

CREATE TABLE latchkey_account (
    account_id     VARCHAR(128) COLLATE "C" NOT NULL,
    created_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    admin_required BOOLEAN NOT NULL,
    CONSTRAINT latchkey_account_pk PRIMARY KEY (account_id)
);

CREATE TABLE latchkey_user (
    account_id VARCHAR(128) COLLATE "C" NOT NULL,
    user_id    VARCHAR(128) COLLATE "C" NOT NULL,
    role       VARCHAR(16) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT latchkey_user_pk PRIMARY KEY (account_id, user_id),
    CONSTRAINT latchkey_user_account_fk FOREIGN KEY (account_id) REFERENCES latchkey_account (account_id) ON DELETE CASCADE,
    CONSTRAINT latchkey_user_role_ck CHECK (role IN ('ADMIN', 'USER'))
);

-- the last-admin guard looks for another admin of the account
CREATE INDEX latchkey_user_role_ix ON latchkey_user (account_id, role);

-- one live key per user; the primary key makes key ids unique across the store
CREATE TABLE latchkey_key (
    key_id      VARCHAR(16) COLLATE "C" NOT NULL,
    secret_hash BYTEA NOT NULL,
    account_id  VARCHAR(128) COLLATE "C" NOT NULL,
    user_id     VARCHAR(128) COLLATE "C" NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT latchkey_key_pk PRIMARY KEY (key_id),
    CONSTRAINT latchkey_key_one_per_user_uq UNIQUE (account_id, user_id),
    CONSTRAINT latchkey_key_user_fk FOREIGN KEY (account_id, user_id) REFERENCES latchkey_user (account_id, user_id) ON DELETE CASCADE,
    CONSTRAINT latchkey_key_hash_ck CHECK (octet_length(secret_hash) = 32)
);

-- the change feed: one row per committed write, numbered 1, 2, 3, ... in commit order
CREATE TABLE latchkey_feed (
    feed_position BIGINT NOT NULL,
    change_type   VARCHAR(32) NOT NULL,
    account_id    VARCHAR(128) COLLATE "C" NOT NULL,
    user_id       VARCHAR(128) COLLATE "C",
    key_ids       VARCHAR(64) NOT NULL,
    committed_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT latchkey_feed_pk PRIMARY KEY (feed_position)
);

-- the newest position: every writing transaction increments it just before it commits, holding its row lock
-- until the commit, so positions are handed out one commit at a time (see JdbcIdentityStore)
CREATE TABLE latchkey_feed_head (
    id            INTEGER NOT NULL,
    feed_position BIGINT NOT NULL,
    CONSTRAINT latchkey_feed_head_pk PRIMARY KEY (id),
    CONSTRAINT latchkey_feed_head_one_row_ck CHECK (id = 1)
);
INSERT INTO latchkey_feed_head (id, feed_position) VALUES (1, 0);

-- the feed is compacted through this position: a reader behind it must start over
CREATE TABLE latchkey_feed_floor (
    id            INTEGER NOT NULL,
    feed_position BIGINT NOT NULL,
    CONSTRAINT latchkey_feed_floor_pk PRIMARY KEY (id),
    CONSTRAINT latchkey_feed_floor_one_row_ck CHECK (id = 1)
);
INSERT INTO latchkey_feed_floor (id, feed_position) VALUES (1, 0);

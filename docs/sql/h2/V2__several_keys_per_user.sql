-- Latchkey identity store, schema version 2, H2: several keys per user. See docs/storage-jdbc.md.
-- Every key of a version 1 store becomes its user's primary key, with every scope ('*') and no expiry.

-- the keys of a user (listing, counting, role changes, removal). H2 lets the foreign key to the user keep the
-- unique index of latchkey_key_one_per_user_uq (still unique) when only the constraint is dropped, so the foreign
-- key is dropped too and added again, on this index.
CREATE INDEX latchkey_key_user_ix ON latchkey_key (account_id, user_id);
ALTER TABLE latchkey_key DROP CONSTRAINT latchkey_key_user_fk;
ALTER TABLE latchkey_key DROP CONSTRAINT latchkey_key_one_per_user_uq;
ALTER TABLE latchkey_key ADD CONSTRAINT latchkey_key_user_fk
    FOREIGN KEY (account_id, user_id) REFERENCES latchkey_user (account_id, user_id) ON DELETE CASCADE;

-- the name an operator gave the key; null for none
ALTER TABLE latchkey_key ADD COLUMN name VARCHAR(64);
-- whether the key is its user's primary key: the one the user's creation issued and a key replacement replaces
ALTER TABLE latchkey_key ADD COLUMN is_primary BOOLEAN DEFAULT TRUE NOT NULL;
ALTER TABLE latchkey_key ALTER COLUMN is_primary DROP DEFAULT;
-- the scopes, joined by single spaces (a scope holds none): at most 32 scopes of 64 characters
ALTER TABLE latchkey_key ADD COLUMN scopes VARCHAR(2079) DEFAULT '*' NOT NULL;
ALTER TABLE latchkey_key ALTER COLUMN scopes DROP DEFAULT;
-- from this instant on the key is refused; null when it never expires
ALTER TABLE latchkey_key ADD COLUMN expires_at TIMESTAMP WITH TIME ZONE;

-- "a user has at most one primary key" is not a constraint here: H2 has no partial (filtered) unique index. The
-- store keeps it alone: a user's primary key is only ever written under its account's row lock.

-- a change names every key of its user (a removal, a role change), expired ones included: no fixed bound
-- (H2's CHARACTER VARYING without a length holds up to 1,000,000,000 characters)
ALTER TABLE latchkey_feed ALTER COLUMN key_ids SET DATA TYPE CHARACTER VARYING;

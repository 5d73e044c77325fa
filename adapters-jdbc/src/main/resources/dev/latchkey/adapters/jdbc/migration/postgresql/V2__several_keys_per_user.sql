-- Latchkey identity store, schema version 2, PostgreSQL: several keys per user. See docs/storage-jdbc.md.
-- Every key of a version 1 store becomes its user's primary key, with every scope ('*') and no expiry.

-- the keys of a user (listing, counting, role changes, removal); it takes over from the index of the constraint below
CREATE INDEX latchkey_key_user_ix ON latchkey_key (account_id, user_id);
ALTER TABLE latchkey_key DROP CONSTRAINT latchkey_key_one_per_user_uq;

-- the name an operator gave the key; null for none
ALTER TABLE latchkey_key ADD COLUMN name VARCHAR(64);
-- whether the key is its user's primary key: the one the user's creation issued and a key replacement replaces
ALTER TABLE latchkey_key ADD COLUMN is_primary BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE latchkey_key ALTER COLUMN is_primary DROP DEFAULT;
-- the scopes, joined by single spaces (a scope holds none): at most 32 scopes of 64 characters
ALTER TABLE latchkey_key ADD COLUMN scopes VARCHAR(2079) NOT NULL DEFAULT '*';
ALTER TABLE latchkey_key ALTER COLUMN scopes DROP DEFAULT;
-- from this instant on the key is refused; null when it never expires
ALTER TABLE latchkey_key ADD COLUMN expires_at TIMESTAMP WITH TIME ZONE;

-- a user has at most one primary key
CREATE UNIQUE INDEX latchkey_key_one_primary_per_user_ux ON latchkey_key (account_id, user_id) WHERE is_primary;

-- a change names every key of its user (a removal, a role change), expired ones included: no fixed bound
ALTER TABLE latchkey_feed ALTER COLUMN key_ids SET DATA TYPE TEXT;

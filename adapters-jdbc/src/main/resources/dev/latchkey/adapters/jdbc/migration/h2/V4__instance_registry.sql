-- Latchkey identity store, schema version 4, H2: the instance registry. See docs/storage-jdbc.md.
-- The table starts empty: each instance of this version writes its own row when it starts.

-- the instance registry: one row per running instance, written only by that instance (every heartbeat, one upsert)
-- and deleted at its clean stop. Not part of the feed nor of the audit trail. A row not rewritten for three
-- heartbeats belongs to an instance that is gone; deleting such a row is safe (a live instance writes it again at
-- its next heartbeat).
CREATE TABLE latchkey_instances (
    instance_id      VARCHAR(128) NOT NULL,
    -- where the other instances reach its HTTP API (http://host:port); empty when it cannot be reached
    url              CHARACTER VARYING NOT NULL,
    -- the Latchkey version it runs
    version          CHARACTER VARYING NOT NULL,
    started_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    -- the feed position it has applied through, as of published_at
    applied_position BIGINT NOT NULL,
    -- when it last read the feed successfully
    feed_read_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    -- when it wrote this row, by its own clock
    published_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    -- how often it writes this row, in milliseconds
    heartbeat_millis BIGINT NOT NULL,
    CONSTRAINT latchkey_instances_pk PRIMARY KEY (instance_id),
    CONSTRAINT latchkey_instances_applied_position_ck CHECK (applied_position >= 0),
    CONSTRAINT latchkey_instances_heartbeat_ck CHECK (heartbeat_millis > 0)
);

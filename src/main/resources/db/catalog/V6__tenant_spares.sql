-- Spare tenant databases (issue 15.7): a database and a login role made and migrated ahead of demand, with the role's
-- password wrapped by the master key under the id the spare will carry as a tenant (names derive from that id). A
-- tenant create takes a ready spare and turns it into a tenant row in one catalog transaction. A spare is not a
-- tenant: it is never listed, served or backed up as one, and it holds no customer data.
--   creating: being made (or migrated) by the node holding the spares lock; one seen by the next holder is dropped
--   ready:    complete at schema_version, may be taken
--   dropping: being dropped (the pool shrank, or it was left behind); dropped by whoever holds the lock next
-- The row is written before its database exists and deleted only after it is gone: no database without a catalog row.
CREATE TABLE tenant_spares (
    id                   uuid PRIMARY KEY,
    placement_id         uuid NOT NULL REFERENCES placements (id),
    state                text NOT NULL CHECK (state IN ('creating', 'ready', 'dropping')),
    database_name        text NOT NULL,
    role_name            text NOT NULL,
    credentials_wrapped  bytea NOT NULL,
    schema_version       text,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX tenant_spares_ready ON tenant_spares (placement_id, created_at) WHERE state = 'ready';

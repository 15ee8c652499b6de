-- Credentials of the tenant's own back-end services for token introspection (RFC 7662, issue 19.4).
-- Only the SHA-256 of a credential is stored; it is shown once, when an admin creates it.
-- IF NOT EXISTS: a history rolled back to before V4 (the schema-upgrade tests) re-runs this one over the table.
CREATE TABLE IF NOT EXISTS service_credentials (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    created_by  uuid,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS service_credentials_created ON service_credentials (created_at, id);

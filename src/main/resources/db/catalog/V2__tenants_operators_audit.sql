-- Operators authenticate with API keys; only a SHA-256 of the key is stored (claim C20).
CREATE TABLE operators (
    id            uuid PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9._-]{1,39}$'),
    key_hash      text NOT NULL UNIQUE,
    key_hint      text NOT NULL,
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

-- PostgreSQL servers that hold tenant databases. The embedded server has no stored credentials: they are
-- known to the running node. External ones keep an admin URL wrapped by the master key.
CREATE TABLE placements (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9-]{1,39}$'),
    kind                text NOT NULL CHECK (kind IN ('embedded', 'external')),
    admin_url_wrapped   bytea,
    ca_certificate      text,
    created_at          timestamptz NOT NULL,
    CHECK ((kind = 'embedded') = (admin_url_wrapped IS NULL))
);

CREATE TABLE tenants (
    id                   uuid PRIMARY KEY,
    slug                 text NOT NULL CHECK (slug ~ '^[a-z][a-z0-9-]{1,39}$'),
    name                 text NOT NULL,
    status               text NOT NULL CHECK (status IN ('provisioning', 'active', 'suspended', 'deprovisioned', 'purged')),
    placement_id         uuid NOT NULL REFERENCES placements (id),
    database_name        text NOT NULL,
    role_name            text NOT NULL,
    -- the tenant role's password, or for an attached database its whole URL; wrapped by the master key
    credentials_wrapped  bytea,
    attached             boolean NOT NULL DEFAULT false,
    data_keyset_wrapped  bytea,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    suspended_at         timestamptz,
    deprovisioned_at     timestamptz,
    purge_after          timestamptz,
    purged_at            timestamptz,
    CHECK (status <> 'purged' OR (credentials_wrapped IS NULL AND data_keyset_wrapped IS NULL))
);
-- A slug is unique among tenants that are not purged; purging frees it.
CREATE UNIQUE INDEX tenants_live_slug ON tenants (slug) WHERE status <> 'purged';
CREATE INDEX tenants_purge_due ON tenants (purge_after) WHERE status = 'deprovisioned';

-- JWT signing keys per tenant (claim C6). The newest unretired key signs; older ones verify until retires_at.
CREATE TABLE tenant_signing_keys (
    kid             text PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    secret_wrapped  bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    retires_at      timestamptz
);
CREATE INDEX tenant_signing_keys_tenant ON tenant_signing_keys (tenant_id, created_at DESC);

-- Append-only, hash-chained record of operator actions and platform security events.
CREATE TABLE platform_audit (
    seq         bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text,
    detail      text NOT NULL,
    request_id  text,
    prev_hash   text NOT NULL,
    hash        text NOT NULL
);

CREATE FUNCTION platform_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'platform_audit is append-only';
END;
$$;
CREATE TRIGGER platform_audit_no_update BEFORE UPDATE OR DELETE ON platform_audit
    FOR EACH ROW EXECUTE FUNCTION platform_audit_append_only();
CREATE TRIGGER platform_audit_no_truncate BEFORE TRUNCATE ON platform_audit
    FOR EACH STATEMENT EXECUTE FUNCTION platform_audit_append_only();

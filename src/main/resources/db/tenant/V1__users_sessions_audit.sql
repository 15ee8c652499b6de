-- The schema of every tenant database, applied as the tenant's own role (least privilege).

CREATE TABLE users (
    id                   uuid PRIMARY KEY,
    email                text NOT NULL,
    email_normalized     text NOT NULL UNIQUE,
    password_hash        text NOT NULL,
    role                 text NOT NULL CHECK (role IN ('admin', 'member')),
    disabled             boolean NOT NULL DEFAULT false,
    -- bumped when the password changes or the user is disabled: access tokens issued before are refused
    token_epoch          bigint NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    password_changed_at  timestamptz NOT NULL
);
CREATE INDEX users_created ON users (created_at, id);

-- A login session: one refresh-token family. Logging out revokes it, and with it the session's access tokens.
CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    client_ip       text,
    user_agent      text
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Opaque refresh tokens, stored only as SHA-256; rotated on every use.
CREATE TABLE refresh_tokens (
    token_hash  text PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE password_resets (
    token_hash  text PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- The tenant's security events, hash-chained like the platform audit.
CREATE TABLE audit_log (
    seq         bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    type        text NOT NULL,
    actor       text,
    subject     text,
    client_ip   text,
    user_agent  text,
    request_id  text,
    detail      text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL
);
CREATE INDEX audit_log_type_at ON audit_log (type, at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

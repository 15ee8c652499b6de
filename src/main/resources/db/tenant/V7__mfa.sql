-- TOTP second factor (RFC 6238, issue 19.2). IF NOT EXISTS: a history rolled back to before V4 (the schema-upgrade
-- tests) re-runs this one over the tables.

-- One authenticator per user. The secret is sealed with the tenant's data keyset (Tink AEAD, the tenant and user
-- bound as associated data): never stored in clear. confirmed_at is null while the enrolment waits for its first
-- code. last_used_step is the RFC 6238 time step of the last code accepted: a code of that step or an earlier one is
-- refused, so a code works once (section 5.2).
CREATE TABLE IF NOT EXISTS mfa_totp (
    user_id            uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed      bytea NOT NULL,
    created_at         timestamptz NOT NULL,
    confirmed_at       timestamptz,
    last_used_step     bigint
);

-- Ten one-time recovery codes per user, stored only as SHA-256 (80 random bits each: nothing to guess from a hash).
CREATE TABLE IF NOT EXISTS mfa_recovery_codes (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   text NOT NULL,
    created_at  timestamptz NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- The short-lived tickets a login with a correct password gets when a second factor is due: 'verify' (enter a
-- code) or 'enrol' (the tenant requires MFA and the user has none yet). Single use; only the SHA-256 is stored.
CREATE TABLE IF NOT EXISTS mfa_tickets (
    ticket_hash  text PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      text NOT NULL CHECK (purpose IN ('verify', 'enrol')),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX IF NOT EXISTS mfa_tickets_user ON mfa_tickets (user_id);

-- The tenant's MFA requirement (one row at most; none means 'none'): who must have a second factor to log in.
CREATE TABLE IF NOT EXISTS mfa_policy (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    required    text NOT NULL CHECK (required IN ('none', 'admins', 'everyone')),
    updated_at  timestamptz NOT NULL,
    updated_by  text
);

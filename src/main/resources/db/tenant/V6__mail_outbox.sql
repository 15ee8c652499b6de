-- E-mail through SMTP (issue 19.1): the tenant's mail settings, its outbox, invitations and verified addresses.

-- Set when the user proved they read mail at their address (a verification link, an invitation, a mailed reset).
ALTER TABLE users ADD COLUMN IF NOT EXISTS email_verified_at timestamptz;

-- A reset token that was mailed (forgot password) proves the address once used; one an admin handed over does not.
ALTER TABLE password_resets ADD COLUMN IF NOT EXISTS mailed boolean NOT NULL DEFAULT false;

-- One row at most (id = 1): the sender, the verification rule and the tenant's own templates.
CREATE TABLE IF NOT EXISTS mail_settings (
    id                      smallint PRIMARY KEY CHECK (id = 1),
    mail_from               text,
    require_verified_email  boolean NOT NULL DEFAULT false,
    -- {kind: {"subject", "text", "html"}}; a kind absent here uses Silo's default
    templates               jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at              timestamptz NOT NULL
);

-- Mail written in the same transaction as the event it tells about, so it is never lost; sent by the mail worker.
-- A row is sent under its row lock (FOR UPDATE SKIP LOCKED), so two nodes never send it at the same time; its
-- message_id stays the same across retries, so a duplicate after a crash between the SMTP server's acceptance
-- and the commit of sent_at carries the same Message-ID (at-least-once: SMTP has no two-phase commit).
CREATE TABLE IF NOT EXISTS mail_outbox (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL,
    recipient        text NOT NULL,
    user_id          uuid,
    -- the values the template is rendered with (never a secret)
    params           jsonb NOT NULL,
    -- the one-time token of the mail, wrapped by the master key, erased once the mail is sent or given up
    secret           bytea,
    message_id       text NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    sent_at          timestamptz,
    failed_at        timestamptz
);
CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX IF NOT EXISTS mail_outbox_recipient ON mail_outbox (recipient, kind, created_at);

-- An admin's invitation: the invitee becomes a user when they set a password with the mailed token.
CREATE TABLE IF NOT EXISTS invitations (
    id                uuid PRIMARY KEY,
    token_hash        text NOT NULL UNIQUE,
    email             text NOT NULL,
    email_normalized  text NOT NULL,
    role              text NOT NULL CHECK (role IN ('admin', 'member')),
    invited_by        uuid,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    accepted_at       timestamptz,
    revoked_at        timestamptz
);
CREATE INDEX IF NOT EXISTS invitations_email ON invitations (email_normalized);

CREATE TABLE IF NOT EXISTS email_verifications (
    token_hash  text PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

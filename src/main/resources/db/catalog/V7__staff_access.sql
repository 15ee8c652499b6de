-- Staff access to a tenant's data only with that customer's approval (issue 17, claim C19).
-- An operator names the e-mail they would have as a tenant user, so that nobody approves their own request.
ALTER TABLE operators ADD COLUMN email text;

-- One row per request: an operator asks, the tenant's admins approve or deny (or, for an emergency request where
-- SILO_EMERGENCY_ACCESS is on, a second operator approves). An approved request is a grant until expires_at, or
-- until it is revoked; its token (silo_ga_...) is made when the requesting operator picks it up, once, and only its
-- SHA-256 is stored.
--   pending -> approved -> revoked | expired;  pending -> denied (by the tenant's admins, or withdrawn)
CREATE TABLE staff_access_requests (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    operator_name     text NOT NULL,
    operator_email    text NOT NULL,
    reason            text NOT NULL CHECK (length(reason) BETWEEN 10 AND 1000),
    scope             text NOT NULL CHECK (scope IN ('read', 'read-write')),
    duration_minutes  integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 480),
    emergency         boolean NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'revoked', 'expired')),
    requested_at      timestamptz NOT NULL,
    decided_at        timestamptz,
    decided_by        text,
    expires_at        timestamptz,
    token_hash        text UNIQUE,
    token_issued_at   timestamptz,
    ended_at          timestamptz,
    ended_by          text,
    uses              bigint NOT NULL DEFAULT 0,
    last_used_at      timestamptz,
    CHECK (NOT emergency OR (scope = 'read' AND duration_minutes <= 60)),
    CHECK ((status IN ('approved', 'revoked', 'expired')) = (expires_at IS NOT NULL))
);
CREATE INDEX staff_access_requests_tenant ON staff_access_requests (tenant_id, requested_at DESC);
CREATE INDEX staff_access_requests_due ON staff_access_requests (expires_at) WHERE status = 'approved';

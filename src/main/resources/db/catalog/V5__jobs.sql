-- Long-running operator work (GET /admin/jobs/{id}): one row per job, updated as it goes. The node running a job
-- beats heartbeat_at every few seconds; a running job whose heartbeat stopped (its node died) reads as interrupted.
CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9.-]{1,63}$'),
    tenant_id     uuid REFERENCES tenants (id) ON DELETE SET NULL,
    state         text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    phase         text,
    progress      text,
    request       jsonb NOT NULL,
    result        jsonb,
    error         text,
    actor         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    CHECK ((state = 'running') = (finished_at IS NULL))
);
CREATE INDEX jobs_tenant ON jobs (tenant_id, created_at);

-- A tenant whose database is being swapped by a restore: its routes answer 503 tenant-restoring while the row's job
-- is running and beating.
CREATE TABLE tenant_restoring (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    job_id     uuid NOT NULL REFERENCES jobs (id),
    since      timestamptz NOT NULL DEFAULT now()
);

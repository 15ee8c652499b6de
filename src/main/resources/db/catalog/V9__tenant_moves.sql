-- Moves of a tenant's database from one placement to another (issue 18.2, `silo tenants move`). One row per move,
-- keyed by its job: the job says how it goes (GET /admin/jobs/{id}), this row what it did to which servers.
--   copying   the target is being built while the tenant is served from the source
--   frozen    the last changes are being copied: the tenant's writes answer 503 tenant-moving (reads go on), only
--             while the job runs and beats, so a move whose process died does not keep the tenant frozen
--   switched  the catalog points to the target; the source copy is kept, its role unable to log in, until
--             drop_source_after (the tenants' retention window), when the lifecycle job drops it
--   dropped   that source copy is gone
--   failed    the move stopped before the switch: the tenant stayed on the source, the target copy was removed
CREATE TABLE tenant_moves (
    job_id               uuid PRIMARY KEY REFERENCES jobs (id),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    source_placement_id  uuid NOT NULL REFERENCES placements (id),
    target_placement_id  uuid NOT NULL REFERENCES placements (id),
    state                text NOT NULL CHECK (state IN ('copying', 'frozen', 'switched', 'dropped', 'failed')),
    started_at           timestamptz NOT NULL DEFAULT now(),
    frozen_at            timestamptz,
    switched_at          timestamptz,
    source_retired       boolean NOT NULL DEFAULT false,
    drop_source_after    timestamptz,
    finished_at          timestamptz,
    CHECK (source_placement_id <> target_placement_id)
);
CREATE INDEX tenant_moves_tenant ON tenant_moves (tenant_id, started_at);
CREATE INDEX tenant_moves_open ON tenant_moves (state) WHERE state IN ('copying', 'frozen', 'switched');

-- A drained placement (`silo placements drain`) takes no new tenant and no move onto it.
ALTER TABLE placements ADD COLUMN accepting boolean NOT NULL DEFAULT true;

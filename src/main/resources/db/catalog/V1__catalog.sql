-- The catalog: what Silo knows about itself and its tenants. Tenant data never lives here.

-- One row: this installation, created on first start.
CREATE TABLE installation (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id          uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every start of a node, for operators investigating restarts (claim C17).
CREATE TABLE node_starts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node        text NOT NULL,
    version     text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);

-- The tenant schema version each tenant's database was last seen at by a node (after a migration, or a check of
-- its history): a node starting with thousands of tenants reads it here in one catalog query per tenant instead
-- of opening a session to every tenant database. NULL (tenants from before this column, restored or moved copies
-- until their first check) means "unknown": the node reads the tenant's own migration history, as before.
-- Nullable and unread by older releases, so the previous release keeps working on this catalog.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS schema_version text;

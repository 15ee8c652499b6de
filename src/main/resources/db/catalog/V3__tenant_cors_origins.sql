-- The origins whose browser apps may call a tenant's API (CORS): exact scheme://host[:port] strings, or the
-- single entry '*' for any origin. Empty (the default): no cross-origin access. Validated by CorsOrigins.parse.
ALTER TABLE tenants ADD COLUMN cors_origins text[] NOT NULL DEFAULT '{}';

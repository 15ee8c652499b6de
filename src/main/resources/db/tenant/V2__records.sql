-- Records API: a tenant's application data. Collections are rows, not tables: no name from a request ever
-- becomes an SQL identifier.

CREATE TABLE collections (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    -- null: schemaless (any JSON object); otherwise {"fields": {name: {"type", "required", "encrypted"}}}
    schema      jsonb,
    created_at  timestamptz NOT NULL,
    created_by  uuid NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  uuid NOT NULL
);

-- Fields declared encrypted hold base64 Tink AEAD ciphertext in data, bound to tenant, collection, id and field.
CREATE TABLE records (
    id          uuid PRIMARY KEY,
    collection  text NOT NULL REFERENCES collections (name) ON DELETE CASCADE,
    version     bigint NOT NULL CHECK (version >= 1),
    data        jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    created_at  timestamptz NOT NULL,
    created_by  uuid NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  uuid NOT NULL
);
-- Keyset pagination on the two system sort keys; equality filters use containment (data @> ...).
CREATE INDEX records_collection_created ON records (collection, created_at, id);
CREATE INDEX records_collection_updated ON records (collection, updated_at, id);
CREATE INDEX records_data ON records USING gin (data jsonb_path_ops);

package dev.silo.records;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/** A collection of records in a tenant's database; without a schema it takes any JSON object. */
record RecordCollection(String name, Optional<Schema> schema, Instant createdAt, Instant updatedAt) {
    RecordCollection {
        requireNonNull(name, "name is null");
        requireNonNull(schema, "schema is null");
        requireNonNull(createdAt, "createdAt is null");
        requireNonNull(updatedAt, "updatedAt is null");
    }

    boolean encrypted(String field) {
        return schema.isPresent() && schema.get().encrypted(field);
    }

    Map<String, Object> view() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("name", name);
        view.put("schema", schema.map(Schema::toJson).orElse(null));
        view.put("created_at", createdAt);
        view.put("updated_at", updatedAt);
        return view;
    }
}

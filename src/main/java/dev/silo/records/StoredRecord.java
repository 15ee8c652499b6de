package dev.silo.records;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/** A record with its plaintext data (encrypted fields opened) and its system fields. */
record StoredRecord(UUID id, String collection, long version, ObjectNode data, Instant createdAt, UUID createdBy,
                    Instant updatedAt, UUID updatedBy) {
    StoredRecord {
        requireNonNull(id, "id is null");
        requireNonNull(collection, "collection is null");
        requireNonNull(data, "data is null");
        requireNonNull(createdAt, "createdAt is null");
        requireNonNull(createdBy, "createdBy is null");
        requireNonNull(updatedAt, "updatedAt is null");
        requireNonNull(updatedBy, "updatedBy is null");
    }

    /** A strong entity tag (RFC 9110 section 8.8.3): the version, which every write increments. */
    String etag() {
        return "\"" + version + "\"";
    }

    Map<String, Object> view() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", id);
        view.put("collection", collection);
        view.put("version", version);
        view.put("created_at", createdAt);
        view.put("created_by", createdBy);
        view.put("updated_at", updatedAt);
        view.put("updated_by", updatedBy);
        view.put("data", data);
        return view;
    }
}

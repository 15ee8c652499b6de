package dev.silo.records;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.http.Json;
import dev.silo.platform.problem.Conflict;
import dev.silo.tenant.Tenant;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * What the logical backups ({@code dev.silo.backup.logical}) need from the records feature without knowing how
 * fields are encrypted: NDJSON lines of exactly the live export's shape ({@code GET /t/{tenant}/export}) from rows
 * read out of a backup, and re-binding encrypted fields to another tenant (a backup restored as a new tenant: the
 * associated data of every encrypted value names the tenant it was written for).
 */
public final class BackupRecords {
    private final FieldCipher cipher;

    public BackupRecords(Envelope envelope) {
        this.cipher = new FieldCipher(requireNonNull(envelope, "envelope is null"));
    }

    /** Writes the export's lines for one tenant: every collection first, then its records, then {@link Lines#end}. */
    public Lines lines(Tenant tenant, OutputStream out) {
        return new Lines(tenant, out);
    }

    public final class Lines {
        private final Tenant tenant;
        private final OutputStream out;
        private final Map<String, RecordCollection> collections = new HashMap<>();
        private long records;
        private long errors;

        private Lines(Tenant tenant, OutputStream out) {
            this.tenant = requireNonNull(tenant, "tenant is null");
            this.out = requireNonNull(out, "out is null");
        }

        public void collection(String name, String schemaJson, Instant createdAt, Instant updatedAt) throws IOException {
            RecordCollection collection = new RecordCollection(name, schema(schemaJson), createdAt, updatedAt);
            collections.put(name, collection);
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("type", "collection");
            line.putAll(collection.view());
            write(line);
        }

        public void record(UUID id, String collectionName, long version, String dataJson, Instant createdAt, UUID createdBy,
                           Instant updatedAt, UUID updatedBy) throws IOException {
            RecordCollection collection = collections.get(collectionName);
            Map<String, Object> line = new LinkedHashMap<>();
            try {
                ObjectNode data = open(tenant, collection, id, (ObjectNode) RecordValues.parseStored(dataJson));
                line.put("type", "record");
                line.putAll(new StoredRecord(id, collectionName, version, data, createdAt, createdBy, updatedAt, updatedBy).view());
                records++;
            } catch (Conflict e) {
                line.put("type", "error");
                line.put("problem", e.type());
                line.put("detail", e.getMessage());
                line.putAll(e.extensions());
                errors++;
            }
            write(line);
        }

        public void end() throws IOException {
            Map<String, Object> end = new LinkedHashMap<>();
            end.put("type", "end");
            end.put("collections", collections.size());
            end.put("records", records);
            end.put("errors", errors);
            write(end);
            out.flush();
        }

        private void write(Map<String, Object> line) throws IOException {
            out.write(Json.MAPPER.writeValueAsBytes(line));
            out.write('\n');
        }
    }

    /**
     * The stored data of a record written for {@code from}, with every encrypted field opened and sealed again for
     * {@code to} (same collection and id); unchanged when the collection declares no encrypted field.
     *
     * @throws Conflict {@code integrity-error} when a value does not open for {@code from}
     */
    public String rebind(Tenant from, Tenant to, String collectionName, String schemaJson, UUID id, String dataJson) {
        Optional<Schema> schema = schema(schemaJson);
        ObjectNode stored = (ObjectNode) RecordValues.parseStored(dataJson);
        if (schema.isEmpty()) {
            return dataJson;
        }
        for (String field : RecordValues.names(stored)) {
            JsonNode value = stored.get(field);
            if (schema.get().encrypted(field) && !value.isNull()) {
                JsonNode plain = cipher.decrypt(from, collectionName, id, field, value);
                stored.set(field, new TextNode(cipher.encrypt(to, collectionName, id, field, plain)));
            }
        }
        return RecordValues.write(stored);
    }

    /** Whether a collection's schema (as stored) declares an encrypted field. */
    public static boolean hasEncryptedFields(String schemaJson) {
        return schema(schemaJson).map(s -> s.toJson().path("fields").properties().stream()
                .anyMatch(field -> field.getValue().path("encrypted").asBoolean(false))).orElse(false);
    }

    private ObjectNode open(Tenant tenant, RecordCollection collection, UUID id, ObjectNode stored) {
        if (collection == null || collection.schema().isEmpty()) {
            return stored;
        }
        for (String field : RecordValues.names(stored)) {
            if (collection.encrypted(field)) {
                stored.set(field, cipher.decrypt(tenant, collection.name(), id, field, stored.get(field)));
            }
        }
        return stored;
    }

    private static Optional<Schema> schema(String json) {
        return json == null ? Optional.empty() : Optional.of(Schema.parse(RecordValues.parseStored(json)));
    }
}

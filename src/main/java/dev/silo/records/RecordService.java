package dev.silo.records;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.Caller;
import dev.silo.platform.cpu.BulkWork;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.Forbidden;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Collections and records of one tenant, in the tenant's own database, always as the tenant's role (claims C12,
 * C15, C24, C25). Collections are rows, never tables: no name from a request reaches SQL text.
 *
 * <p>Concurrency: every record write reads its collection {@code FOR SHARE} (a create in the same statement as its
 * insert, see {@link #create}) and a schema change locks it {@code FOR UPDATE}, so no record slips in under the old
 * schema while the new one is checked. Updates and
 * deletes are conditional on the version the client read ({@code WHERE version = ...}), so concurrent writers
 * never lose an update: the second one gets a 412 and rereads.
 */
public final class RecordService {
    private static final Logger log = LoggerFactory.getLogger(RecordService.class);
    static final Pattern COLLECTION_NAME = Pattern.compile("[a-z][a-z0-9_]{0,62}");
    /** Rows fetched per round trip when streaming (export, schema checks). */
    private static final int FETCH_SIZE = 256;
    private static final String UNDEFINED_TABLE = "42P01";
    private static final String UNDEFINED_FUNCTION = "42883";
    /** Reads of a collection one create makes at most, when its schema keeps changing under it. */
    private static final int CREATE_ATTEMPTS = 5;

    private static final String RECORD_COLUMNS =
            "id, collection, version, data::text, created_at, created_by, updated_at, updated_by";
    private static final String SELECT_RECORDS = "SELECT " + RECORD_COLUMNS + " FROM records";

    private final TenantDatabases databases;
    private final FieldCipher cipher;
    private final CursorSigner cursors;
    private final TenantAudit audit;
    private final Clock clock;
    private final Consumer<Tenant> migrate;
    private final BulkWork bulk;
    /**
     * Collections as last read, for creates; never trusted: every create checks the schema in the same statement.
     * Invalidated here when this instance changes or deletes a collection.
     */
    private final Cache<CollectionKey, ReadCollection> collections = Caffeine.newBuilder()
            .maximumSize(10_000)
            .expireAfterAccess(Duration.ofMinutes(10))
            .build();

    /**
     * @param migrate migrates a tenant's schema; called when a tenant database predates the records tables
     *                (a tenant restored or resumed after an upgrade), then the work is retried once
     * @param bulk    where an export's records are decrypted (platform threads, not the request's virtual thread)
     */
    public RecordService(TenantDatabases databases, dev.silo.platform.crypto.Envelope envelope, TenantAudit audit, Clock clock,
                         Consumer<Tenant> migrate, BulkWork bulk) {
        this.bulk = requireNonNull(bulk, "bulk is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.cipher = new FieldCipher(requireNonNull(envelope, "envelope is null"));
        this.cursors = new CursorSigner(envelope);
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.migrate = requireNonNull(migrate, "migrate is null");
    }

    // ---- collections

    record PutResult(RecordCollection collection, boolean created) {}

    /** Creates or updates a collection; a schema that existing records would violate is a 409 that counts them. */
    PutResult putCollection(Caller caller, String name, Optional<Schema> schema) {
        requireAdmin(caller);
        checkCollectionName(name);
        Instant now = now();
        try {
            return storeCollection(caller, name, schema, now);
        } finally {
            collections.invalidate(new CollectionKey(caller.tenant().id(), name));
        }
    }

    private PutResult storeCollection(Caller caller, String name, Optional<Schema> schema, Instant now) {
        return transaction(caller.tenant(), connection -> {
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO collections (name, schema, created_at, created_by, updated_at, updated_by)
                    VALUES (?, ?::jsonb, ?, ?, ?, ?)
                    ON CONFLICT (name) DO NOTHING
                    """)) {
                insert.setString(1, name);
                insert.setString(2, schema.map(s -> RecordValues.write(s.toJson())).orElse(null));
                insert.setTimestamp(3, Timestamp.from(now));
                insert.setObject(4, caller.userId());
                insert.setTimestamp(5, Timestamp.from(now));
                insert.setObject(6, caller.userId());
                if (insert.executeUpdate() == 1) {
                    audit.append(connection, caller.audit(), "collection.create", name, Map.of("schema", schema.isPresent()));
                    return new PutResult(new RecordCollection(name, schema, now, now), true);
                }
            }
            RecordCollection existing = findCollection(connection, name, "FOR UPDATE").orElseThrow();
            if (existing.schema().equals(schema)) {
                return new PutResult(existing, false);
            }
            checkExistingRecords(connection, caller.tenant(), existing, schema);
            try (PreparedStatement update = connection.prepareStatement(
                    "UPDATE collections SET schema = ?::jsonb, updated_at = ?, updated_by = ? WHERE name = ?")) {
                update.setString(1, schema.map(s -> RecordValues.write(s.toJson())).orElse(null));
                update.setTimestamp(2, Timestamp.from(now));
                update.setObject(3, caller.userId());
                update.setString(4, name);
                update.executeUpdate();
            }
            audit.append(connection, caller.audit(), "collection.update", name, Map.of("schema", schema.isPresent()));
            return new PutResult(new RecordCollection(name, schema, existing.createdAt(), now), false);
        });
    }

    /**
     * Counts the records the new schema would refuse: each is opened under the old schema and validated under the
     * new one; a field whose {@code encrypted} flag changes is in the way too (values are not re-encrypted).
     * Streams with a server-side cursor, so a large collection does not fill the heap.
     */
    private void checkExistingRecords(Connection connection, Tenant tenant, RecordCollection existing, Optional<Schema> schema)
            throws SQLException {
        RecordCollection target = new RecordCollection(existing.name(), schema, existing.createdAt(), existing.updatedAt());
        long inTheWay = 0;
        List<Map<String, Object>> examples = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement(SELECT_RECORDS + " WHERE collection = ? ORDER BY created_at, id")) {
            select.setFetchSize(FETCH_SIZE);
            select.setString(1, existing.name());
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    UUID id = rs.getObject(1, UUID.class);
                    ObjectNode stored = (ObjectNode) RecordValues.parseStored(rs.getString(4));
                    String reason = null;
                    for (String field : RecordValues.names(stored)) {
                        if (existing.encrypted(field) != target.encrypted(field)) {
                            reason = "field '" + field + "' would change between encrypted and plaintext";
                            break;
                        }
                    }
                    if (reason == null) {
                        try {
                            ObjectNode plain = open(tenant, existing, id, stored);
                            schema.ifPresent(s -> s.validate(plain));
                        } catch (BadRequest | Conflict e) {
                            reason = e.getMessage();
                        }
                    }
                    if (reason != null) {
                        inTheWay++;
                        if (examples.size() < 5) {
                            examples.add(Map.of("id", id.toString(), "reason", reason));
                        }
                    }
                }
            }
        }
        if (inTheWay > 0) {
            throw new Conflict("schema-conflict", inTheWay + " existing record(s) of collection '" + existing.name()
                    + "' would violate the new schema; change or delete them first", Map.of("records_in_the_way", inTheWay,
                    "examples", examples));
        }
    }

    List<RecordCollection> listCollections(Caller caller) {
        return transaction(caller.tenant(), connection -> {
            List<RecordCollection> collections = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT name, schema::text, created_at, updated_at FROM collections ORDER BY name");
                 ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    collections.add(readCollection(rs));
                }
            }
            return collections;
        });
    }

    RecordCollection getCollection(Caller caller, String name) {
        checkCollectionName(name);
        return transaction(caller.tenant(), connection -> requireCollection(connection, name, ""));
    }

    /** Deletes a collection; one that still holds records only with {@code force}, and then its records too. */
    void deleteCollection(Caller caller, String name, boolean force) {
        requireAdmin(caller);
        checkCollectionName(name);
        try {
            removeCollection(caller, name, force);
        } finally {
            collections.invalidate(new CollectionKey(caller.tenant().id(), name));
        }
    }

    private void removeCollection(Caller caller, String name, boolean force) {
        transaction(caller.tenant(), connection -> {
            requireCollection(connection, name, "FOR UPDATE");
            long count;
            try (PreparedStatement select = connection.prepareStatement("SELECT count(*) FROM records WHERE collection = ?")) {
                select.setString(1, name);
                try (ResultSet rs = select.executeQuery()) {
                    rs.next();
                    count = rs.getLong(1);
                }
            }
            if (count > 0 && !force) {
                throw new Conflict("collection-not-empty", "collection '" + name + "' holds " + count
                        + " record(s); delete them first, or pass ?force=true to delete them with it", Map.of("records", count));
            }
            try (PreparedStatement delete = connection.prepareStatement("DELETE FROM collections WHERE name = ?")) {
                delete.setString(1, name);
                delete.executeUpdate();
            }
            audit.append(connection, caller.audit(), "collection.delete", name, Map.of("records_deleted", count));
            return null;
        });
    }

    // ---- records

    /**
     * Creates a record in one statement, one round trip in auto-commit: the data is validated and sealed in Java
     * under the collection's schema as last read (cached per tenant and collection), and the {@code INSERT ...
     * SELECT} inserts only if the collection still has exactly that schema, reading it {@code FOR SHARE}. A
     * concurrent schema change or deletion holds the row {@code FOR UPDATE}, so the insert waits for it and then
     * rechecks the condition against the committed row (READ COMMITTED re-evaluation): a record never slips in under
     * a schema that is no longer the collection's. When the condition fails (the cache was stale, or the schema
     * changed meanwhile), the collection is read again and the record validated again.
     */
    StoredRecord create(Caller caller, String collectionName, ObjectNode data) {
        checkCollectionName(collectionName);
        RecordValues.checkStorable(data);
        Instant now = now();
        UUID id = RecordIds.v7(now);
        CollectionKey key = new CollectionKey(caller.tenant().id(), collectionName);
        ReadCollection read = collections.getIfPresent(key);
        for (int attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++) {
            boolean fresh = read == null;
            if (fresh) {
                read = readCollection(caller.tenant(), collectionName);
                collections.put(key, read);
            }
            RecordCollection collection = read.collection();
            try {
                collection.schema().ifPresent(schema -> schema.validate(data));
            } catch (BadRequest | Conflict e) {
                if (fresh) {
                    throw e;
                }
                // validated against a cached schema that may be out of date: read it again before refusing
                collections.invalidate(key);
                read = null;
                continue;
            }
            String stored = RecordValues.write(seal(caller.tenant(), collection, id, data));
            String schemaText = read.schemaText();
            boolean inserted = withRetry(caller.tenant(), false, connection -> {
                try (PreparedStatement insert = connection.prepareStatement("""
                        INSERT INTO records (id, collection, version, data, created_at, created_by, updated_at, updated_by)
                        SELECT ?, c.name, 1, ?::jsonb, ?, ?, ?, ?
                        FROM collections c
                        WHERE c.name = ? AND c.schema IS NOT DISTINCT FROM ?::jsonb
                        FOR SHARE OF c
                        """)) {
                    insert.setObject(1, id);
                    insert.setString(2, stored);
                    insert.setTimestamp(3, Timestamp.from(now));
                    insert.setObject(4, caller.userId());
                    insert.setTimestamp(5, Timestamp.from(now));
                    insert.setObject(6, caller.userId());
                    insert.setString(7, collectionName);
                    insert.setString(8, schemaText);
                    return insert.executeUpdate() == 1;
                }
            });
            if (inserted) {
                return new StoredRecord(id, collectionName, 1, data, now, caller.userId(), now, caller.userId());
            }
            // deleted, or its schema changed since it was read: read it again (a 404 if it is gone)
            collections.invalidate(key);
            read = null;
        }
        throw new Conflict("collection-changing", "the schema of collection '" + collectionName + "' changed "
                + CREATE_ATTEMPTS + " times while this record was being created; retry", Map.of("collection", collectionName));
    }

    /** A collection as read, with its schema's stored text, the version a create checks it against. */
    private record ReadCollection(RecordCollection collection, String schemaText) {}

    private record CollectionKey(UUID tenantId, String name) {}

    private ReadCollection readCollection(Tenant tenant, String name) {
        return withRetry(tenant, false, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT name, schema::text, created_at, updated_at FROM collections WHERE name = ?")) {
                select.setString(1, name);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw new NotFound("collection-not-found", "no collection '" + name + "' in this tenant",
                                Map.of("collection", name));
                    }
                    return new ReadCollection(readCollection(rs), rs.getString(2));
                }
            }
        });
    }

    /**
     * Reads one record: one statement in auto-commit (the collection and the record together), the hot path of
     * the API, so one round trip to the tenant's database.
     */
    StoredRecord get(Caller caller, String collectionName, UUID id) {
        checkCollectionName(collectionName);
        return withRetry(caller.tenant(), false, connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT r.id, r.collection, r.version, r.data::text, r.created_at, r.created_by, r.updated_at, r.updated_by,
                           c.name, c.schema::text, c.created_at, c.updated_at
                    FROM collections c LEFT JOIN records r ON r.collection = c.name AND r.id = ?
                    WHERE c.name = ?
                    """)) {
                select.setObject(1, id);
                select.setString(2, collectionName);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw new NotFound("collection-not-found", "no collection '" + collectionName + "' in this tenant",
                                Map.of("collection", collectionName));
                    }
                    String schema = rs.getString(10);
                    RecordCollection collection = new RecordCollection(rs.getString(9),
                            schema == null ? Optional.empty() : Optional.of(Schema.parse(RecordValues.parseStored(schema))),
                            rs.getTimestamp(11).toInstant(), rs.getTimestamp(12).toInstant());
                    if (rs.getObject(1) == null) {
                        throw recordNotFound(collectionName, id);
                    }
                    return readRecord(rs, caller.tenant(), collection);
                }
            }
        });
    }

    /** Replaces a record's data if its current version is one of {@code expected} (the client's If-Match). */
    StoredRecord replace(Caller caller, String collectionName, UUID id, List<Long> expected, ObjectNode data) {
        checkCollectionName(collectionName);
        RecordValues.checkStorable(data);
        Instant now = now();
        return transaction(caller.tenant(), connection -> {
            RecordCollection collection = requireCollection(connection, collectionName, "FOR SHARE");
            collection.schema().ifPresent(schema -> schema.validate(data));
            try (PreparedStatement update = connection.prepareStatement("""
                    UPDATE records SET data = ?::jsonb, version = version + 1, updated_at = ?, updated_by = ?
                    WHERE collection = ? AND id = ? AND version = ANY (?)
                    RETURNING version, created_at, created_by
                    """)) {
                update.setString(1, RecordValues.write(seal(caller.tenant(), collection, id, data)));
                update.setTimestamp(2, Timestamp.from(now));
                update.setObject(3, caller.userId());
                update.setString(4, collectionName);
                update.setObject(5, id);
                update.setArray(6, versions(connection, expected));
                try (ResultSet rs = update.executeQuery()) {
                    if (rs.next()) {
                        return new StoredRecord(id, collectionName, rs.getLong(1), data, rs.getTimestamp(2).toInstant(),
                                rs.getObject(3, UUID.class), now, caller.userId());
                    }
                }
            }
            throw preconditionOrMissing(connection, collectionName, id, expected);
        });
    }

    /** Applies a JSON Merge Patch (RFC 7396) to the plaintext data, if the current version is one of {@code expected}. */
    StoredRecord patch(Caller caller, String collectionName, UUID id, List<Long> expected, ObjectNode patch) {
        checkCollectionName(collectionName);
        RecordValues.checkStorable(patch);
        Instant now = now();
        return transaction(caller.tenant(), connection -> {
            RecordCollection collection = requireCollection(connection, collectionName, "FOR SHARE");
            StoredRecord current = findRecord(connection, caller.tenant(), collection, id, "FOR UPDATE")
                    .orElseThrow(() -> recordNotFound(collectionName, id));
            if (!expected.contains(current.version())) {
                throw preconditionFailed(collectionName, id, current.version());
            }
            ObjectNode data = (ObjectNode) RecordValues.mergePatch(current.data(), patch);
            RecordValues.checkStorable(data);
            collection.schema().ifPresent(schema -> schema.validate(data));
            try (PreparedStatement update = connection.prepareStatement("""
                    UPDATE records SET data = ?::jsonb, version = version + 1, updated_at = ?, updated_by = ?
                    WHERE collection = ? AND id = ? AND version = ?
                    """)) {
                update.setString(1, RecordValues.write(seal(caller.tenant(), collection, id, data)));
                update.setTimestamp(2, Timestamp.from(now));
                update.setObject(3, caller.userId());
                update.setString(4, collectionName);
                update.setObject(5, id);
                update.setLong(6, current.version());
                if (update.executeUpdate() != 1) {
                    throw new IllegalStateException("record " + id + " changed under its row lock");
                }
            }
            return new StoredRecord(id, collectionName, current.version() + 1, data, current.createdAt(), current.createdBy(),
                    now, caller.userId());
        });
    }

    void delete(Caller caller, String collectionName, UUID id, List<Long> expected) {
        checkCollectionName(collectionName);
        transaction(caller.tenant(), connection -> {
            requireCollection(connection, collectionName, "FOR SHARE");
            try (PreparedStatement delete = connection.prepareStatement(
                    "DELETE FROM records WHERE collection = ? AND id = ? AND version = ANY (?)")) {
                delete.setString(1, collectionName);
                delete.setObject(2, id);
                delete.setArray(3, versions(connection, expected));
                if (delete.executeUpdate() == 1) {
                    return null;
                }
            }
            throw preconditionOrMissing(connection, collectionName, id, expected);
        });
    }

    record Page(List<StoredRecord> records, String nextCursor) {}

    /** One page of a listing; the cursor continues after the last record, so concurrent inserts never shift a page. */
    Page list(Caller caller, String collectionName, RecordQuery query) {
        checkCollectionName(collectionName);
        if (query.filters().size() > RecordQuery.MAX_FILTERS) {
            throw new BadRequest("invalid-filter", "at most " + RecordQuery.MAX_FILTERS + " filters per request");
        }
        return transaction(caller.tenant(), connection -> {
            RecordCollection collection = requireCollection(connection, collectionName, "");
            RecordQuery.Sort sort = RecordQuery.resolveSort(query.sort(), collection);
            Optional<RecordQuery.Position> after = query.cursor()
                    .map(cursor -> RecordQuery.decode(cursors.verify(caller.tenant(), collectionName, cursor), sort));
            RecordQuery.Compiled compiled = query.compile(SELECT_RECORDS, collection, sort, after);
            List<StoredRecord> records = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(compiled.sql())) {
                for (int i = 0; i < compiled.parameters().size(); i++) {
                    select.setObject(i + 1, compiled.parameters().get(i));
                }
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        records.add(readRecord(rs, caller.tenant(), collection));
                    }
                }
            }
            String next = null;
            if (records.size() > query.limit()) {
                records = new ArrayList<>(records.subList(0, query.limit()));
                next = cursors.sign(caller.tenant(), collectionName, RecordQuery.encode(sort, records.getLast()));
            }
            return new Page(records, next);
        });
    }

    // ---- export

    /**
     * Streams every collection, then every record (decrypted), as NDJSON to {@code out}, from one consistent snapshot
     * read through a server-side cursor: memory stays bounded however large the tenant. A record that fails its
     * integrity check becomes an {@code error} line instead of stopping the export; the last line, {@code end},
     * carries the counts, so a truncated download is recognisable.
     */
    void export(Caller caller, OutputStream out) {
        requireAdmin(caller);
        transaction(caller.tenant(), connection -> {
            audit.append(connection, caller.audit(), "records.export", null, Map.of());
            return null;
        });
        transaction(caller.tenant(), connection -> {
            try (Statement statement = connection.createStatement()) {
                statement.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            }
            Map<String, RecordCollection> collections = new LinkedHashMap<>();
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT name, schema::text, created_at, updated_at FROM collections ORDER BY name");
                 ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    RecordCollection collection = readCollection(rs);
                    collections.put(collection.name(), collection);
                }
            }
            for (RecordCollection collection : collections.values()) {
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("type", "collection");
                line.putAll(collection.view());
                writeLine(out, line);
            }
            long[] counts = new long[2]; // records, errors
            try (PreparedStatement select = connection.prepareStatement(SELECT_RECORDS + " ORDER BY collection, created_at, id")) {
                select.setFetchSize(FETCH_SIZE);
                try (ResultSet rs = select.executeQuery()) {
                    // Rows are read and lines written on this (virtual) thread; the decryption of each batch, CPU
                    // work, runs on the bulk pool.
                    List<RawRecord> batch = new ArrayList<>(FETCH_SIZE);
                    boolean more = true;
                    while (more) {
                        more = rs.next();
                        if (more) {
                            batch.add(RawRecord.of(rs));
                        }
                        if (batch.size() == FETCH_SIZE || (!more && !batch.isEmpty())) {
                            List<RawRecord> rows = List.copyOf(batch);
                            batch.clear();
                            for (Map<String, Object> line : bulk.call(() -> exportLines(caller.tenant(), collections, rows, counts))) {
                                writeLine(out, line);
                            }
                        }
                    }
                }
            }
            long records = counts[0];
            long errors = counts[1];
            Map<String, Object> end = new LinkedHashMap<>();
            end.put("type", "end");
            end.put("collections", collections.size());
            end.put("records", records);
            end.put("errors", errors);
            writeLine(out, end);
            return null;
        });
        try {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeLine(OutputStream out, Map<String, Object> line) {
        try {
            out.write(dev.silo.platform.http.Json.MAPPER.writeValueAsBytes(line));
            out.write('\n');
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- helpers

    /** Runs work in a tenant transaction; a database that predates the records tables is migrated, then retried once. */
    private <T> T transaction(Tenant tenant, Sql.Work<T> work) {
        return withRetry(tenant, true, work);
    }

    private <T> T withRetry(Tenant tenant, boolean transaction, Sql.Work<T> work) {
        try {
            return transaction ? databases.inTransaction(tenant, work) : databases.withConnection(tenant, work);
        } catch (Sql.DatabaseException e) {
            if (!UNDEFINED_TABLE.equals(e.sqlState()) && !UNDEFINED_FUNCTION.equals(e.sqlState())) {
                throw e;
            }
            log.warn("Tenant {} has an older schema; migrating it", tenant);
            migrate.accept(tenant);
            return transaction ? databases.inTransaction(tenant, work) : databases.withConnection(tenant, work);
        }
    }

    private Instant now() {
        // PostgreSQL keeps microseconds; truncating here makes the value returned equal the value stored
        return clock.instant().truncatedTo(ChronoUnit.MICROS);
    }

    private static void requireAdmin(Caller caller) {
        if (!caller.admin()) {
            throw new Forbidden("forbidden", "changing collections and exporting need the admin role");
        }
    }

    static void checkCollectionName(String name) {
        if (name == null || !COLLECTION_NAME.matcher(name).matches()) {
            throw new BadRequest("invalid-collection-name", "a collection name matches " + COLLECTION_NAME.pattern()
                    + " (lower-case letters, digits and '_', starting with a letter, at most 63 characters)");
        }
    }

    /** The data as stored: every encrypted field present and not null replaced by its ciphertext. */
    private ObjectNode seal(Tenant tenant, RecordCollection collection, UUID id, ObjectNode data) {
        if (collection.schema().isEmpty()) {
            return data;
        }
        ObjectNode stored = data.deepCopy();
        for (Map.Entry<String, JsonNode> entry : data.properties()) {
            if (collection.encrypted(entry.getKey()) && !entry.getValue().isNull()) {
                stored.set(entry.getKey(), new TextNode(cipher.encrypt(tenant, collection.name(), id, entry.getKey(), entry.getValue())));
            }
        }
        return stored;
    }

    /** The plaintext data: every encrypted field opened, or a 409 {@code integrity-error}. */
    private ObjectNode open(Tenant tenant, RecordCollection collection, UUID id, ObjectNode stored) {
        if (collection.schema().isEmpty()) {
            return stored;
        }
        for (String field : RecordValues.names(stored)) {
            if (collection.encrypted(field)) {
                stored.set(field, cipher.decrypt(tenant, collection.name(), id, field, stored.get(field)));
            }
        }
        return stored;
    }

    private Optional<RecordCollection> findCollection(Connection connection, String name, String lock) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT name, schema::text, created_at, updated_at FROM collections WHERE name = ? " + lock)) {
            select.setString(1, name);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.of(readCollection(rs)) : Optional.empty();
            }
        }
    }

    private RecordCollection requireCollection(Connection connection, String name, String lock) throws SQLException {
        return findCollection(connection, name, lock).orElseThrow(() -> new NotFound("collection-not-found",
                "no collection '" + name + "' in this tenant", Map.of("collection", name)));
    }

    private Optional<StoredRecord> findRecord(Connection connection, Tenant tenant, RecordCollection collection, UUID id,
                                              String lock) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                SELECT_RECORDS + " WHERE collection = ? AND id = ? " + lock)) {
            select.setString(1, collection.name());
            select.setObject(2, id);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.of(readRecord(rs, tenant, collection)) : Optional.empty();
            }
        }
    }

    private static RecordCollection readCollection(ResultSet rs) throws SQLException {
        String schema = rs.getString(2);
        return new RecordCollection(rs.getString(1),
                schema == null ? Optional.empty() : Optional.of(Schema.parse(RecordValues.parseStored(schema))),
                rs.getTimestamp(3).toInstant(), rs.getTimestamp(4).toInstant());
    }

    /** A record row as read, its encrypted fields still sealed. */
    private record RawRecord(UUID id, String collection, long version, String data, Instant createdAt, UUID createdBy,
                             Instant updatedAt, UUID updatedBy) {
        static RawRecord of(ResultSet rs) throws SQLException {
            return new RawRecord(rs.getObject(1, UUID.class), rs.getString(2), rs.getLong(3), rs.getString(4),
                    rs.getTimestamp(5).toInstant(), rs.getObject(6, UUID.class), rs.getTimestamp(7).toInstant(),
                    rs.getObject(8, UUID.class));
        }
    }

    /** The export lines of one batch: records opened, or an {@code error} line for one that fails its check. */
    private List<Map<String, Object>> exportLines(Tenant tenant, Map<String, RecordCollection> collections, List<RawRecord> rows,
                                                  long[] counts) {
        List<Map<String, Object>> lines = new ArrayList<>(rows.size());
        for (RawRecord row : rows) {
            Map<String, Object> line = new LinkedHashMap<>();
            try {
                ObjectNode data = open(tenant, collections.get(row.collection()), row.id(),
                        (ObjectNode) RecordValues.parseStored(row.data()));
                StoredRecord record = new StoredRecord(row.id(), row.collection(), row.version(), data, row.createdAt(),
                        row.createdBy(), row.updatedAt(), row.updatedBy());
                line.put("type", "record");
                line.putAll(record.view());
                counts[0]++;
            } catch (Conflict e) {
                line.put("type", "error");
                line.put("problem", e.type());
                line.put("detail", e.getMessage());
                line.putAll(e.extensions());
                counts[1]++;
            }
            lines.add(line);
        }
        return lines;
    }

    private StoredRecord readRecord(ResultSet rs, Tenant tenant, RecordCollection collection) throws SQLException {
        UUID id = rs.getObject(1, UUID.class);
        ObjectNode data = open(tenant, collection, id, (ObjectNode) RecordValues.parseStored(rs.getString(4)));
        return new StoredRecord(id, rs.getString(2), rs.getLong(3), data, rs.getTimestamp(5).toInstant(),
                rs.getObject(6, UUID.class), rs.getTimestamp(7).toInstant(), rs.getObject(8, UUID.class));
    }

    private static Array versions(Connection connection, List<Long> expected) throws SQLException {
        return connection.createArrayOf("bigint", expected.toArray());
    }

    private static RuntimeException preconditionOrMissing(Connection connection, String collection, UUID id, List<Long> expected)
            throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT version FROM records WHERE collection = ? AND id = ?")) {
            select.setString(1, collection);
            select.setObject(2, id);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? preconditionFailed(collection, id, rs.getLong(1)) : recordNotFound(collection, id);
            }
        }
    }

    private static dev.silo.platform.problem.PreconditionFailed preconditionFailed(String collection, UUID id, long current) {
        return new dev.silo.platform.problem.PreconditionFailed("record " + id + " in collection '" + collection + "' is at version " + current
                + ", not the one in If-Match: it changed since you read it; read it again and reapply your change",
                Map.of("current_etag", "\"" + current + "\""));
    }

    static NotFound recordNotFound(String collection, UUID id) {
        return new NotFound("record-not-found", "no record " + id + " in collection '" + collection + "'",
                Map.of("collection", collection));
    }
}

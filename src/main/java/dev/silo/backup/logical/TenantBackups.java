package dev.silo.backup.logical;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.crypto.tink.Aead;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.StreamingAead;
import com.google.crypto.tink.TinkProtoKeysetFormat;
import com.google.crypto.tink.streamingaead.PredefinedStreamingAeadParameters;
import com.google.crypto.tink.streamingaead.StreamingAeadConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.audit.TenantAudit;
import dev.silo.backup.BackupStore;
import dev.silo.backup.EncryptedBackupStore;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.db.Pools;
import dev.silo.platform.db.Sql;
import dev.silo.platform.http.Json;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.NotFound;
import dev.silo.records.BackupRecords;
import dev.silo.tenant.Placements;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantService;
import dev.silo.tenant.TenantStatus;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;

import static java.util.Objects.requireNonNull;

/**
 * Logical backups of one tenant (issue 13.2, claim C15): one consistent snapshot of its database (REPEATABLE READ
 * READ ONLY, binary COPY of each table, the tenant schema version) read as the tenant's own role, written as one
 * object {@code tenants/<tenant id>/<time>.backup}.
 *
 * <p><b>Encrypted with the tenant's own keyset</b>, inside the store's encryption: each backup gets a fresh streaming
 * AEAD key ({@code AES256_GCM_HKDF_1MB}), which is stored in the object's header encrypted by the tenant's data
 * keyset (the AES-256-GCM keyset the catalog holds wrapped by the master key, the one its encrypted fields use), with
 * the tenant id and backup id as associated data. Purging the tenant destroys that keyset (the catalog keeps
 * {@code NULL}), so every copy of every backup of it, wherever it was copied, no longer opens with anything Silo
 * holds: crypto-shredding (claim C18). The header itself (format, tenant id, time, schema version) is not secret.
 *
 * <p>Object layout: {@code SILOTB1\n}, a 4-byte length and the header JSON, then the tenant-encrypted DEFLATE of a
 * {@link Snapshot} body.
 */
public final class TenantBackups {
    static final String PREFIX = "tenants/";
    static final String SUFFIX = ".backup";
    private static final byte[] MAGIC = "SILOTB1\n".getBytes(StandardCharsets.US_ASCII);
    private static final Logger log = LoggerFactory.getLogger(TenantBackups.class);
    /**
     * Not restored into a copy made with {@code --as}: sessions and refresh tokens are the original's logins (a refresh
     * token of the original must not open the copy), password-reset tokens likewise, and the audit log is the
     * original's chain, keyed to its database (the copy starts its own; the backup keeps the original's); service
     * credentials are the original's services (one must not open the copy's introspection). MFA enrolments are sealed
     * with the original's keyset and bound to its id, and their tickets are the original's logins: the copy's users
     * enrol again. The mail outbox, the invitations and the e-mail verifications are the original's mail (the copy
     * must not send it again, nor accept the original's tokens).
     */
    static final Set<String> NOT_COPIED_TO_NEW_TENANT = Set.of("sessions", "refresh_tokens", "password_resets", "audit_log",
            "service_credentials", "mfa_totp", "mfa_recovery_codes", "mfa_tickets", "mail_outbox", "invitations",
            "email_verifications");

    static {
        try {
            StreamingAeadConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final DataSource catalog;
    private final TenantService tenants;
    private final Placements placements;
    private final Envelope envelope;
    private final BackupStore store;
    private final PlatformAudit audit;
    private final TenantAudit tenantAudit;
    private final BackupRecords records;
    private final Clock clock;
    private final int retentionDays;

    public TenantBackups(DataSource catalog, TenantService tenants, Placements placements, Envelope envelope, BackupStore store,
                         PlatformAudit audit, TenantAudit tenantAudit, Clock clock, int retentionDays) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.tenants = requireNonNull(tenants, "tenants is null");
        this.placements = requireNonNull(placements, "placements is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.store = requireNonNull(store, "store is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.tenantAudit = requireNonNull(tenantAudit, "tenantAudit is null");
        this.records = new BackupRecords(envelope);
        this.clock = requireNonNull(clock, "clock is null");
        this.retentionDays = retentionDays;
    }

    public BackupStore store() {
        return store;
    }

    /** One backup, as listed: never a key. */
    public record BackupInfo(String id, UUID tenantId, Instant takenAt, String schemaVersion, long storedBytes) {
        public Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("id", id);
            view.put("taken_at", takenAt);
            view.put("schema_version", schemaVersion);
            view.put("stored_bytes", storedBytes);
            return view;
        }
    }

    static String objectName(UUID tenantId, String id) {
        return PREFIX + tenantId + "/" + id + SUFFIX;
    }

    // ---- taking

    /** Backs up an active (or suspended) tenant now. */
    public BackupInfo take(Tenant tenant) throws IOException {
        requireNonNull(tenant, "tenant is null");
        if (tenant.status() != TenantStatus.ACTIVE && tenant.status() != TenantStatus.SUSPENDED) {
            throw new Conflict("invalid-state", "tenant '" + tenant.slug() + "' is " + tenant.status().wire()
                    + "; only an active or suspended tenant is backed up");
        }
        DatabaseUrl url = placements.tenantUrl(tenant);
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties())) {
            return take(tenant, connection);
        } catch (SQLException e) {
            throw new IOException("cannot read the database of tenant " + tenant.slug() + ": " + e.getMessage(), e);
        }
    }

    /** Backs up the database behind {@code connection} as {@code tenant}'s (tests give an older schema this way). */
    BackupInfo take(Tenant tenant, Connection connection) throws IOException, SQLException {
        Instant now = clock.instant();
        String id = BackupTimes.format(now);
        String name = objectName(tenant.id(), id);
        connection.setAutoCommit(false);
        try {
            try (Statement statement = connection.createStatement()) {
                statement.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            }
            Snapshot.Manifest manifest = new Snapshot.Manifest(CatalogSnapshots.schemaVersion(connection),
                    Snapshot.tables(connection, table -> true));
            KeysetHandle key = KeysetHandle.generateNew(PredefinedStreamingAeadParameters.AES256_GCM_HKDF_1MB);
            byte[] associatedData = associatedData(tenant.id(), id);
            byte[] wrappedKey = TinkProtoKeysetFormat.serializeEncryptedKeyset(key, tenantAead(tenant), associatedData);
            Map<String, Object> header = new LinkedHashMap<>();
            header.put("format", 1);
            header.put("tenant_id", tenant.id().toString());
            header.put("backup_id", id);
            header.put("taken_at", now.toString());
            header.put("schema_version", manifest.schemaVersion());
            header.put("key", Base64.getEncoder().encodeToString(wrappedKey));
            byte[] headerJson = Json.MAPPER.writeValueAsBytes(header);
            StreamingAead aead = key.getPrimitive(RegistryConfiguration.get(), StreamingAead.class);
            try (Snapshot.Writer body = new Snapshot.Writer(connection, manifest)) {
                Deflater deflater = new Deflater(Deflater.BEST_SPEED);
                try (InputStream encrypted = new PullPipeline(body,
                        sink -> new DeflaterOutputStream(encrypting(aead, sink, associatedData), deflater, 64 * 1024))) {
                    byte[] prefix = ByteBuffer.allocate(MAGIC.length + 4 + headerJson.length).put(MAGIC)
                            .putInt(headerJson.length).put(headerJson).array();
                    store.put(name, new SequenceInputStream(new ByteArrayInputStream(prefix), encrypted));
                } finally {
                    deflater.end();
                }
            }
            log.info("Backed up tenant {} as {}", tenant, name);
            return new BackupInfo(id, tenant.id(), now, manifest.schemaVersion(), size(name));
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot encrypt the backup of tenant " + tenant.slug(), e);
        } finally {
            connection.rollback();
            connection.setAutoCommit(true);
        }
    }

    private static OutputStream encrypting(StreamingAead aead, OutputStream sink, byte[] associatedData) throws IOException {
        try {
            return aead.newEncryptingStream(sink, associatedData);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot start encrypting a tenant backup", e);
        }
    }

    private long size(String name) throws IOException {
        return store.list(name).stream().filter(o -> o.name().equals(name)).mapToLong(BackupStore.StoredObject::size)
                .findFirst().orElse(0);
    }

    static byte[] associatedData(UUID tenantId, String id) {
        return ("silo/tenant-backup/v1/" + tenantId + "/" + id).getBytes(StandardCharsets.UTF_8);
    }

    private Aead tenantAead(Tenant tenant) {
        if (tenant.dataKeysetWrapped() == null) {
            throw purged(tenant);
        }
        try {
            return envelope.unwrapKeyset(tenant.dataKeysetWrapped(), tenant.keysetContext())
                    .getPrimitive(RegistryConfiguration.get(), Aead.class);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot build the data primitive of tenant " + tenant.id(), e);
        }
    }

    static Conflict purged(Tenant tenant) {
        return new Conflict("tenant-purged", "tenant '" + tenant.slug() + "' was purged" + (tenant.purgedAt() == null ? ""
                : " at " + tenant.purgedAt()) + ": its keys are destroyed, so its backups can no longer be decrypted or restored");
    }

    // ---- listing and retention

    /** The tenant's backups, oldest first. */
    public List<BackupInfo> list(Tenant tenant) throws IOException {
        List<BackupInfo> backups = new ArrayList<>();
        for (BackupStore.StoredObject object : store.list(PREFIX + tenant.id() + "/")) {
            String id = object.name().substring((PREFIX + tenant.id() + "/").length());
            if (!id.endsWith(SUFFIX)) {
                continue;
            }
            id = id.substring(0, id.length() - SUFFIX.length());
            Optional<Instant> time = BackupTimes.parse(id);
            if (time.isEmpty()) {
                continue;
            }
            String version = null;
            try (InputStream in = store.get(object.name()).orElse(null)) {
                if (in != null) {
                    version = readHeader(new DataInputStream(in), object.name()).path("schema_version").asText(null);
                }
            } catch (IOException e) {
                log.warn("Cannot read the header of {}: {}", object.name(), e.getMessage());
            }
            backups.add(new BackupInfo(id, tenant.id(), time.get(), version, object.size()));
        }
        return backups;
    }

    /** The newest backup time of every tenant that has one, from one listing. */
    Map<UUID, Instant> newest() throws IOException {
        Map<UUID, Instant> newest = new LinkedHashMap<>();
        for (BackupStore.StoredObject object : store.list(PREFIX)) {
            Optional<Located> located = locate(object.name());
            located.ifPresent(l -> newest.merge(l.tenantId(), l.takenAt(), (a, b) -> a.isAfter(b) ? a : b));
        }
        return newest;
    }

    /** Deletes every tenant backup older than {@code SILO_BACKUP_RETENTION_DAYS}; returns how many. */
    int deleteExpired() throws IOException {
        Instant cutoff = clock.instant().minus(Duration.ofDays(retentionDays));
        int deleted = 0;
        for (BackupStore.StoredObject object : store.list(PREFIX)) {
            Optional<Located> located = locate(object.name());
            if (located.isPresent() && located.get().takenAt().isBefore(cutoff)) {
                store.delete(object.name());
                deleted++;
            }
        }
        return deleted;
    }

    private record Located(UUID tenantId, Instant takenAt) {}

    private static Optional<Located> locate(String name) {
        String[] parts = name.split("/");
        if (parts.length != 3 || !parts[2].endsWith(SUFFIX)) {
            return Optional.empty();
        }
        try {
            UUID tenantId = UUID.fromString(parts[1]);
            return BackupTimes.parse(parts[2].substring(0, parts[2].length() - SUFFIX.length()))
                    .map(time -> new Located(tenantId, time));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    // ---- reading

    private static JsonNode readHeader(DataInputStream in, String name) throws IOException {
        byte[] magic = in.readNBytes(MAGIC.length);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new IOException("backup object " + name + " is not a Silo tenant backup");
        }
        int length = in.readInt();
        if (length < 0 || length > 64 * 1024) {
            throw new IOException("backup object " + name + " has a corrupt header");
        }
        return Json.MAPPER.readTree(in.readNBytes(length));
    }

    /** An open backup: its header and the decrypted snapshot body. The caller closes it. */
    final class Opened implements AutoCloseable {
        final JsonNode header;
        final Snapshot.Reader reader;
        private final InputStream stream;

        private Opened(JsonNode header, Snapshot.Reader reader, InputStream stream) {
            this.header = header;
            this.reader = reader;
            this.stream = stream;
        }

        @Override
        public void close() throws IOException {
            stream.close();
        }
    }

    /**
     * Opens backup {@code id} of {@code tenant}: its key opens only with the tenant's keyset.
     *
     * @throws NotFound when there is no such backup
     * @throws Conflict {@code tenant-purged} when the tenant's keys are destroyed
     */
    Opened open(Tenant tenant, String id) throws IOException {
        if (id == null || BackupTimes.parse(id).isEmpty()) {
            throw backupNotFound(tenant, String.valueOf(id));
        }
        Aead tenantAead = tenantAead(tenant);
        String name = objectName(tenant.id(), id);
        InputStream stored = store.get(name).orElseThrow(() -> backupNotFound(tenant, id));
        try {
            DataInputStream in = new DataInputStream(stored);
            JsonNode header = readHeader(in, name);
            byte[] associatedData = associatedData(tenant.id(), id);
            KeysetHandle key;
            try {
                key = TinkProtoKeysetFormat.parseEncryptedKeyset(Base64.getDecoder().decode(header.path("key").asText()),
                        tenantAead, associatedData);
            } catch (GeneralSecurityException | IllegalArgumentException e) {
                throw new EncryptedBackupStore.TamperedObjectException("backup " + name + " does not open with the keyset of "
                        + "tenant " + tenant.slug() + ": it was written for another tenant, or altered", e);
            }
            InputStream plain;
            try {
                plain = new InflaterInputStream(key.getPrimitive(RegistryConfiguration.get(), StreamingAead.class)
                        .newDecryptingStream(in, associatedData), new Inflater(), 64 * 1024);
            } catch (GeneralSecurityException e) {
                throw new IOException("cannot start decrypting backup " + name, e);
            }
            return new Opened(header, new Snapshot.Reader(plain, "backup " + name), plain);
        } catch (IOException | RuntimeException e) {
            stored.close();
            throw e;
        }
    }

    private static NotFound backupNotFound(Tenant tenant, String id) {
        return new NotFound("backup-not-found", "tenant '" + tenant.slug() + "' has no backup '" + id
                + "' (list them with GET /t/" + tenant.slug() + "/backups or `silo tenants backups " + tenant.slug() + "`)");
    }

    /**
     * Writes backup {@code id} decrypted as NDJSON, in the shape of the live export: collections, records (encrypted
     * fields opened), then an {@code end} line with the counts. CPU-heavy: callers run it on a platform thread.
     */
    public void download(Tenant tenant, String id, OutputStream out) throws IOException {
        try (Opened opened = open(tenant, id)) {
            BackupRecords.Lines lines = records.lines(tenant, out);
            boolean collections = false;
            boolean records = false;
            while (opened.reader.next()) {
                Snapshot.Table table = opened.reader.table();
                if (table.name().equals("collections")) {
                    collections = true;
                    forEachRow(opened.reader, table, row -> lines.collection(CopyRows.text(row.get("name")),
                            CopyRows.jsonb(row.get("schema")), CopyRows.timestamptz(row.get("created_at")),
                            CopyRows.timestamptz(row.get("updated_at"))));
                } else if (table.name().equals("records")) {
                    records = true;
                    forEachRow(opened.reader, table, row -> lines.record(CopyRows.uuid(row.get("id")),
                            CopyRows.text(row.get("collection")), CopyRows.int8(row.get("version")),
                            CopyRows.jsonb(row.get("data")), CopyRows.timestamptz(row.get("created_at")),
                            CopyRows.uuid(row.get("created_by")), CopyRows.timestamptz(row.get("updated_at")),
                            CopyRows.uuid(row.get("updated_by"))));
                } else {
                    opened.reader.skip();
                }
            }
            opened.reader.trailer();
            if (!collections || !records) {
                log.info("Backup {} of tenant {} predates the records tables", id, tenant);
            }
            lines.end();
        }
    }

    @FunctionalInterface
    private interface RowHandler {
        void accept(Map<String, byte[]> row) throws IOException;
    }

    private static void forEachRow(Snapshot.Reader reader, Snapshot.Table table, RowHandler handler) throws IOException {
        CopyRows rows = new CopyRows(reader);
        for (byte[][] fields = rows.next(); fields != null; fields = rows.next()) {
            Map<String, byte[]> row = new LinkedHashMap<>();
            for (int i = 0; i < fields.length && i < table.columns().size(); i++) {
                row.put(table.columns().get(i), fields[i]);
            }
            handler.accept(row);
        }
    }

    // ---- restoring

    /** A tenant by slug, live or purged (the newest of that slug): a purged one is refused by name, not "not found". */
    public Tenant find(String slug) {
        Optional<Tenant> live = tenants.findLive(slug);
        if (live.isPresent()) {
            return live.get();
        }
        TenantService.validateSlug(slug);
        return tenants.list(true).stream().filter(t -> t.slug().equals(slug))
                .reduce((a, b) -> a.updatedAt().isAfter(b.updatedAt()) ? a : b)
                .orElseThrow(() -> new NotFound("tenant-not-found", "no tenant with slug '" + slug + "'"));
    }

    /** What {@link #restoreAs} made. */
    public record RestoredAs(Tenant tenant, String backupId, String fromSchemaVersion, Map<String, Long> rows) {}

    /**
     * Restores backup {@code id} of tenant {@code slug} into a new tenant {@code newSlug}: a new database, role,
     * password, signing secret and data keyset (on the original's placement). The schema is built at the backup's
     * version, the tables are copied in (not the original's sessions, tokens and audit chain:
     * {@link #NOT_COPIED_TO_NEW_TENANT}), encrypted fields are opened with the original's keyset and sealed again for
     * the copy, then the schema is migrated forward to this build's. The original is not touched. On failure the new
     * tenant is removed again.
     */
    public RestoredAs restoreAs(String slug, String id, String newSlug, Actor actor) throws IOException {
        Tenant original = find(slug);
        if (original.status() == TenantStatus.PURGED || original.dataKeysetWrapped() == null) {
            throw purged(original);
        }
        TenantService.validateSlug(newSlug);
        // Open (and so check the backup and its key) before creating anything.
        try (Opened opened = open(original, id)) {
            String version = opened.reader.manifest().schemaVersion();
            Tenant copy = tenants.create(newSlug, original.name() + " (backup " + id + ")",
                    Optional.of(placements.placementName(original.placementId())), actor);
            try {
                Map<String, Long> rows = restoreInto(original, copy, opened.reader, version);
                tenants.migrate(copy);
                Sql.inTransaction(catalog, connection -> {
                    audit.append(connection, actor, "tenant.restore-backup", "tenant:" + newSlug, Map.of("tenant_id",
                            copy.id().toString(), "from_tenant", original.slug(), "from_tenant_id", original.id().toString(),
                            "backup", id, "schema_version", version));
                    return null;
                });
                DatabaseUrl url = placements.tenantUrl(copy);
                try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties())) {
                    tenantAudit.append(connection, TenantAudit.Context.SYSTEM, "tenant.restored-from-backup", null,
                            Map.of("from_tenant", original.slug(), "backup", id, "actor", actor.name()));
                }
                log.info("Restored backup {} of tenant {} as new tenant {}", id, original, copy);
                return new RestoredAs(copy, id, version, rows);
            } catch (IOException | SQLException | RuntimeException e) {
                removeQuietly(copy, actor);
                if (e instanceof IOException io) {
                    throw io;
                }
                if (e instanceof RuntimeException runtime) {
                    throw runtime;
                }
                throw new IOException("cannot restore backup " + id + " of tenant " + slug + ": " + e.getMessage(), e);
            }
        }
    }

    Map<String, Long> restoreInto(Tenant original, Tenant copy, Snapshot.Reader reader, String version)
            throws IOException, SQLException {
        DatabaseUrl url = placements.tenantUrl(copy);
        try (HikariDataSource dataSource = Pools.create("restore-" + copy.slug(), url, 2, 0, Duration.ofSeconds(10))) {
            try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
                // The database is the copy's own, new and empty but for the schema just migrated: start from nothing.
                statement.execute("DROP SCHEMA public CASCADE");
                statement.execute("CREATE SCHEMA public");
            }
            Flyway.configure().dataSource(dataSource).locations("classpath:db/tenant").failOnMissingLocations(true)
                    .target(MigrationVersion.fromVersion(version)).load().migrate();
            Map<String, Long> rows = new LinkedHashMap<>();
            try (Connection connection = dataSource.getConnection()) {
                connection.setAutoCommit(false);
                while (reader.next()) {
                    if (NOT_COPIED_TO_NEW_TENANT.contains(reader.table().name())) {
                        reader.skip();
                        continue;
                    }
                    rows.put(reader.table().name(), reader.copyInto(connection));
                    Snapshot.resetSequences(connection, reader.table());
                }
                Map<String, Long> expected = new LinkedHashMap<>(reader.trailer());
                expected.keySet().removeAll(NOT_COPIED_TO_NEW_TENANT);
                if (!expected.equals(rows)) {
                    connection.rollback();
                    throw new IOException("backup is incomplete: rows " + rows + " instead of " + expected);
                }
                rebindEncryptedFields(connection, original, copy);
                connection.commit();
            }
            return rows;
        }
    }

    private void rebindEncryptedFields(Connection connection, Tenant original, Tenant copy) throws SQLException {
        if (!tableExists(connection, "records")) {
            return;
        }
        Map<String, String> schemas = new LinkedHashMap<>();
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT name, schema::text FROM collections WHERE schema IS NOT NULL")) {
            while (rs.next()) {
                if (BackupRecords.hasEncryptedFields(rs.getString(2))) {
                    schemas.put(rs.getString(1), rs.getString(2));
                }
            }
        }
        for (Map.Entry<String, String> collection : schemas.entrySet()) {
            try (PreparedStatement select = connection.prepareStatement("SELECT id, data::text FROM records WHERE collection = ?");
                 PreparedStatement update = connection.prepareStatement("UPDATE records SET data = ?::jsonb WHERE id = ?")) {
                select.setString(1, collection.getKey());
                select.setFetchSize(500);
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        UUID recordId = rs.getObject(1, UUID.class);
                        update.setString(1, records.rebind(original, copy, collection.getKey(), collection.getValue(), recordId,
                                rs.getString(2)));
                        update.setObject(2, recordId);
                        update.addBatch();
                    }
                }
                update.executeBatch();
            }
        }
    }

    private static boolean tableExists(Connection connection, String table) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            select.setString(1, "public." + table);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    void removeQuietly(Tenant copy, Actor actor) {
        try {
            tenants.deprovision(copy.slug(), actor);
            tenants.purge(copy.slug(), true, actor);
        } catch (RuntimeException e) {
            log.error("Cannot remove tenant {} after its restore failed: {}", copy, e.toString());
        }
    }
}

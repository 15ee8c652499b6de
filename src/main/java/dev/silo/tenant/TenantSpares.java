package dev.silo.tenant;

import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.db.Sql;
import org.flywaydb.core.api.MigrationVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Spare tenant databases (issue 15.7): a few databases and login roles made on the embedded server ahead of demand,
 * migrated to this build's tenant schema, each with its own fresh role password, so that a create
 * ({@link TenantService#create}) takes one in a catalog transaction instead of provisioning (a role, a database, a
 * Flyway run: hundreds of milliseconds). Names derive from the spare's id, which the tenant keeps, so taking one
 * renames nothing. A spare is a row of {@code tenant_spares}, not of {@code tenants}: it is never listed, served or
 * backed up as a tenant, and it holds no customer data (its schema is empty).
 *
 * <p>One node at a time makes and drops spares: each pass holds an advisory lock in the catalog (on a connection of
 * its own; it ends with the connection, so a crashed node's lock is gone at once). A spare's row is written, state
 * {@code creating}, before its role and database exist, and deleted only after they are dropped, so there is never a
 * database without a catalog row; a {@code creating} or {@code dropping} row that the lock holder finds was left by a
 * pass that did not finish (only the lock holder writes those states) and is dropped. A ready spare at an older
 * tenant schema (a newer build started) is migrated before it may be taken, or dropped if that fails.
 *
 * <p>The pass runs on a platform thread of its own: at start (which repairs what a crash left), after a spare was
 * taken or any tenant changed (a catalog event; once creates have paused for half a second, at most 5 s later), and
 * every minute. {@code SILO_TENANT_SPARES=0} keeps none: the
 * start's pass drops any that are left.
 *
 * <p>Why the role password is made with the spare and not when it is taken: setting it then would cost a connection
 * to the server's admin account, the larger part of what a create from a spare saves; and the password is never
 * exposed before the tenant exists (it lives wrapped by the master key under the tenant id's context, and as a SCRAM
 * verifier on the server), nothing but Silo's own migration ever logs in with it, and it is 256 random bits made for
 * this one database. The JWT secret and the data keyset cost microseconds, so they are made when the spare is taken.
 */
public final class TenantSpares implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TenantSpares.class);

    /** The advisory lock (two keys) held by whoever makes and drops spares; tests hold it to keep the pool still. */
    public static final int LOCK_SPACE = 7215015;
    public static final int LOCK_KEY = 1;
    private static final Duration PERIOD = Duration.ofSeconds(60);
    private static final Duration QUIET = Duration.ofMillis(500);
    private static final Duration MAX_DEFERRAL = Duration.ofSeconds(5);

    /** A spare as its catalog row holds it. */
    public record Spare(UUID id, UUID placementId, String state, String databaseName, String roleName,
                        byte[] credentialsWrapped, String schemaVersion) {
        public Spare {
            requireNonNull(id, "id is null");
            requireNonNull(placementId, "placementId is null");
            requireNonNull(state, "state is null");
        }

        @Override
        public String toString() {
            return "Spare[" + id + " " + state + " schema " + schemaVersion + "]";
        }
    }

    /** What one pass did; {@code ran} is false when another node held the lock. */
    public record Pass(boolean ran, int created, int migrated, int dropped) {
        static final Pass SKIPPED = new Pass(false, 0, 0, 0);
    }

    private final DataSource catalog;
    private final Placements placements;
    private final Envelope envelope;
    private final DataSource locks;
    private final Clock clock;
    private final int target;
    private final Semaphore wake = new Semaphore(0);
    private volatile boolean closed;
    private Thread thread;

    /**
     * @param locks  catalog connections that hold the spares lock (the provisioning-lock pool)
     * @param target spares kept ready on the embedded placement ({@code SILO_TENANT_SPARES})
     */
    public TenantSpares(DataSource catalog, Placements placements, Envelope envelope, DataSource locks, Clock clock, int target) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.placements = requireNonNull(placements, "placements is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.locks = requireNonNull(locks, "locks is null");
        this.clock = requireNonNull(clock, "clock is null");
        if (target < 0) {
            throw new IllegalArgumentException("target is negative: " + target);
        }
        this.target = target;
    }

    public int target() {
        return target;
    }

    /** Starts the background thread: one pass at once, then on {@link #requestRefill} and every minute. */
    public synchronized void start() {
        if (thread != null) {
            return;
        }
        thread = Thread.ofPlatform().daemon().name("silo-tenant-spares").start(this::run);
    }

    /** Asks the background thread for a pass soon (a spare was taken, a tenant changed). */
    public void requestRefill() {
        if (target > 0) {
            wake.release();
        }
    }

    private void run() {
        while (!closed) {
            try {
                refill();
            } catch (RuntimeException e) {
                log.warn("Spare tenant databases: the pass failed ({}); it is tried again within a minute", e.toString());
            }
            if (target == 0) {
                return; // the start's pass dropped what was left; nothing more to keep
            }
            try {
                if (wake.tryAcquire(PERIOD.toMillis(), TimeUnit.MILLISECONDS)) {
                    awaitQuiet();
                }
                wake.drainPermits();
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /**
     * Waits until no create has taken a spare for {@link #QUIET} (at most {@link #MAX_DEFERRAL}): making a spare
     * writes a database's worth of WAL and runs a migration, which a burst of creates would otherwise wait behind.
     */
    private void awaitQuiet() throws InterruptedException {
        long deadline = System.nanoTime() + MAX_DEFERRAL.toNanos();
        while (System.nanoTime() < deadline && wake.tryAcquire(QUIET.toMillis(), TimeUnit.MILLISECONDS)) {
            wake.drainPermits();
        }
    }

    @Override
    public void close() {
        closed = true;
        Thread running;
        synchronized (this) {
            running = thread;
        }
        if (running != null) {
            running.interrupt();
            try {
                running.join(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- what the pool holds

    /** Spares of every placement, oldest first, in every state. */
    public List<Spare> list() {
        return Sql.withConnection(catalog, connection -> select(connection, "true"));
    }

    /** Spares that a create may take now. */
    public int ready() {
        Optional<MigrationVersion> schema = shippedSchemaVersion();
        return (int) list().stream().filter(spare -> spare.state().equals("ready")
                && schema.map(version -> version.getVersion().equals(spare.schemaVersion())).orElse(false)).count();
    }

    private static final String TAKE = """
            DELETE FROM tenant_spares WHERE id = (
                SELECT id FROM tenant_spares WHERE placement_id = ? AND state = 'ready' AND schema_version = ?
                ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, placement_id, state, database_name, role_name, credentials_wrapped, schema_version
            """;

    /**
     * Takes a ready spare of the placement at this schema version, in the caller's transaction: its row is gone when
     * the transaction commits and back when it rolls back. Row locks with {@code SKIP LOCKED}: two creates, on one
     * node or on two sharing the catalog, never take the same spare, and none waits for another.
     */
    static Optional<Spare> take(Connection connection, UUID placementId, MigrationVersion schema) throws SQLException {
        try (PreparedStatement take = connection.prepareStatement(TAKE)) {
            take.setObject(1, placementId);
            take.setString(2, schema.getVersion());
            try (ResultSet rs = take.executeQuery()) {
                return rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
    }

    // ---- the pass

    /**
     * One pass, holding the spares lock (or nothing, when another node holds it): drops what an interrupted pass
     * left, migrates ready spares of an older schema, then drops spares above the target or makes spares up to it.
     */
    public Pass refill() {
        try (Connection lock = locks.getConnection()) {
            lock.setAutoCommit(false);
            try {
                try (PreparedStatement take = lock.prepareStatement("SELECT pg_try_advisory_xact_lock(?, ?)")) {
                    take.setInt(1, LOCK_SPACE);
                    take.setInt(2, LOCK_KEY);
                    try (ResultSet rs = take.executeQuery()) {
                        if (!rs.next() || !rs.getBoolean(1)) {
                            return Pass.SKIPPED;
                        }
                    }
                }
                return pass();
            } finally {
                try {
                    lock.rollback();
                    lock.setAutoCommit(true);
                } catch (SQLException e) {
                    log.debug("Spares lock connection failed while releasing: {}", e.toString());
                }
            }
        } catch (SQLException e) {
            throw Sql.translate(e);
        }
    }

    private Pass pass() {
        int created = 0;
        int migrated = 0;
        int dropped = 0;
        for (Spare left : Sql.withConnection(catalog, connection -> select(connection, "state IN ('creating', 'dropping')"))) {
            log.warn("Dropping {}, left by an interrupted pass", left);
            drop(left);
            dropped++;
        }
        Optional<MigrationVersion> schema = shippedSchemaVersion();
        if (schema.isEmpty()) {
            log.warn("Spare tenant databases: cannot tell this build's tenant schema version; making none");
            return new Pass(true, 0, 0, dropped);
        }
        for (Spare spare : Sql.withConnection(catalog, connection -> select(connection, "state = 'ready'"))) {
            MigrationVersion version = spare.schemaVersion() == null ? MigrationVersion.EMPTY
                    : MigrationVersion.fromVersion(spare.schemaVersion());
            if (version.compareTo(schema.get()) < 0 && claim(spare.id(), "creating")) {
                try {
                    setReady(spare.id(), TenantService.migrate(spareUrl(spare), "spare"));
                    migrated++;
                } catch (RuntimeException e) {
                    log.warn("Cannot migrate {}; dropping it: {}", spare, e.toString());
                    drop(spare);
                    dropped++;
                }
            }
        }
        Optional<UUID> home = placements.list().stream().filter(p -> p.kind().equals(Placements.EMBEDDED))
                .map(Placements.Placement::id).findFirst();
        if (home.isEmpty()) {
            return new Pass(true, created, migrated, dropped);
        }
        UUID placement = home.get();
        List<Spare> ready = Sql.withConnection(catalog, connection ->
                select(connection, "state = 'ready' AND placement_id = ?", placement));
        Collections.reverse(ready); // the newest go first
        for (Spare excess : ready.subList(0, Math.max(0, ready.size() - target))) {
            if (claim(excess.id(), "dropping")) {
                drop(excess);
                dropped++;
            }
        }
        for (int have = ready.size(); have < target && !closed; have++) {
            if (!create(placement, schema.get())) {
                break; // tried again by the next pass
            }
            created++;
        }
        if (created + migrated + dropped > 0) {
            log.info("Spare tenant databases: {} made, {} migrated, {} dropped (keeping {})", created, migrated, dropped, target);
        }
        return new Pass(true, created, migrated, dropped);
    }

    /** Makes one spare: its row first (creating), then role, database and schema, then ready. */
    private boolean create(UUID placement, MigrationVersion schema) {
        UUID id = UUID.randomUUID();
        String name = Tenant.databaseNameFor(id);
        String password = TenantService.randomPassword();
        Spare spare = new Spare(id, placement, "creating", name, name,
                envelope.wrapString(password, "tenant/" + id + "/db-credentials"), null);
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO tenant_spares (id, placement_id, state, database_name, role_name, credentials_wrapped,
                                               created_at, updated_at)
                    VALUES (?, ?, 'creating', ?, ?, ?, ?, ?)
                    """)) {
                Timestamp now = Timestamp.from(clock.instant());
                insert.setObject(1, id);
                insert.setObject(2, placement);
                insert.setString(3, name);
                insert.setString(4, name);
                insert.setBytes(5, spare.credentialsWrapped());
                insert.setTimestamp(6, now);
                insert.setTimestamp(7, now);
                insert.executeUpdate();
            }
            return null;
        });
        try {
            DatabaseUrl admin = placements.adminUrl(placement, null);
            try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties())) {
                TenantService.createRole(connection, name, password);
                TenantService.createDatabase(connection, name, name);
                TenantService.revokePublic(connection, name);
            }
            MigrationVersion migrated = TenantService.migrate(spareUrl(spare), "spare");
            if (!migrated.equals(schema)) {
                throw new IllegalStateException("migrated to " + migrated + ", expected " + schema);
            }
            setReady(id, migrated);
            return true;
        } catch (SQLException | RuntimeException e) {
            log.warn("Cannot make a spare tenant database: {}", e instanceof SQLException sql
                    ? "SQLSTATE " + sql.getSQLState() + ": " + sql.getMessage() : e.toString());
            try {
                drop(spare);
            } catch (RuntimeException dropFailed) {
                log.warn("Cannot drop {} yet (the next pass does): {}", spare, dropFailed.toString());
            }
            return false;
        }
    }

    /** Drops the spare's database and role, then its row. */
    private void drop(Spare spare) {
        DatabaseUrl admin = placements.adminUrl(spare.placementId(), null);
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties())) {
            TenantService.dropDatabaseAndRole(connection, spare.databaseName(), spare.roleName());
        } catch (SQLException e) {
            throw Sql.translate(e);
        }
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement delete = connection.prepareStatement(
                    "DELETE FROM tenant_spares WHERE id = ? AND state IN ('creating', 'dropping')")) {
                delete.setObject(1, spare.id());
                delete.executeUpdate();
            }
            return null;
        });
    }

    /**
     * Moves a ready spare to {@code state} unless a create is taking it right now (its row is locked) or took it;
     * committed at once, so no create takes it from then on.
     */
    private boolean claim(UUID id, String state) {
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement claim = connection.prepareStatement("""
                    UPDATE tenant_spares SET state = ?, updated_at = ? WHERE id = (
                        SELECT id FROM tenant_spares WHERE id = ? AND state = 'ready' FOR UPDATE SKIP LOCKED)
                    """)) {
                claim.setString(1, state);
                claim.setTimestamp(2, Timestamp.from(clock.instant()));
                claim.setObject(3, id);
                return claim.executeUpdate() == 1;
            }
        });
    }

    private void setReady(UUID id, MigrationVersion schema) {
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement update = connection.prepareStatement(
                    "UPDATE tenant_spares SET state = 'ready', schema_version = ?, updated_at = ? WHERE id = ?")) {
                update.setString(1, schema.getVersion());
                update.setTimestamp(2, Timestamp.from(clock.instant()));
                update.setObject(3, id);
                update.executeUpdate();
            }
            return null;
        });
    }

    /** Where the spare's own role connects to its database (for its migration only). */
    private DatabaseUrl spareUrl(Spare spare) {
        String password = envelope.unwrapString(spare.credentialsWrapped(), "tenant/" + spare.id() + "/db-credentials");
        return placements.adminUrl(spare.placementId(), spare.databaseName()).withCredentials(spare.roleName(), password);
    }

    private static List<Spare> select(Connection connection, String where, Object... parameters) throws SQLException {
        List<Spare> spares = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT id, placement_id, state, database_name, role_name, credentials_wrapped, schema_version
                FROM tenant_spares WHERE\s""" + where + " ORDER BY created_at, id")) {
            for (int i = 0; i < parameters.length; i++) {
                select.setObject(i + 1, parameters[i]);
            }
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    spares.add(read(rs));
                }
            }
        }
        return spares;
    }

    private static Spare read(ResultSet rs) throws SQLException {
        return new Spare(rs.getObject("id", UUID.class), rs.getObject("placement_id", UUID.class), rs.getString("state"),
                rs.getString("database_name"), rs.getString("role_name"), rs.getBytes("credentials_wrapped"),
                rs.getString("schema_version"));
    }

    // ---- this build's tenant schema

    private static final Pattern MIGRATION = Pattern.compile("V(\\d+(?:[._]\\d+)*)__[^/]*\\.sql");
    private static volatile Optional<MigrationVersion> shipped;

    /**
     * The newest tenant migration this build ships ({@code classpath:db/tenant}), read from the class path without
     * a database: a spare is taken only at exactly this version. Empty if the migrations cannot be listed (then no
     * spare is made or taken, and creates provision as usual).
     */
    public static Optional<MigrationVersion> shippedSchemaVersion() {
        Optional<MigrationVersion> known = shipped;
        if (known == null) {
            known = scan();
            shipped = known;
        }
        return known;
    }

    private static Optional<MigrationVersion> scan() {
        URL location = TenantSpares.class.getClassLoader().getResource("db/tenant");
        if (location == null) {
            return Optional.empty();
        }
        List<String> names = new ArrayList<>();
        try {
            if (location.getProtocol().equals("file")) {
                try (var files = Files.list(Path.of(location.toURI()))) {
                    files.forEach(file -> names.add(file.getFileName().toString()));
                }
            } else if (location.openConnection() instanceof JarURLConnection jar) {
                jar.setUseCaches(false);
                try (JarFile file = jar.getJarFile()) {
                    for (JarEntry entry : Collections.list(file.entries())) {
                        if (entry.getName().startsWith("db/tenant/")) {
                            names.add(entry.getName().substring("db/tenant/".length()));
                        }
                    }
                }
            }
        } catch (IOException | URISyntaxException | RuntimeException e) {
            log.warn("Cannot list the tenant migrations at {}: {}", location, e.toString());
            return Optional.empty();
        }
        MigrationVersion newest = null;
        for (String name : names) {
            Matcher matcher = MIGRATION.matcher(name);
            if (matcher.matches()) {
                MigrationVersion version = MigrationVersion.fromVersion(matcher.group(1).replace('_', '.'));
                newest = newest == null || version.compareTo(newest) > 0 ? version : newest;
            }
        }
        return Optional.ofNullable(newest);
    }
}

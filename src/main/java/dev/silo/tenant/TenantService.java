package dev.silo.tenant;

import com.google.crypto.tink.KeysetHandle;
import com.zaxxer.hikari.HikariDataSource;
import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.db.Pools;
import dev.silo.platform.db.ScramVerifier;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.NotFound;
import dev.silo.platform.problem.Unavailable;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.security.SecureRandom;
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
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The tenant lifecycle: provision, suspend, resume, deprovision, restore, purge, rotate the signing secret,
 * repair an interrupted provisioning. The HTTP admin API and the CLI both call this; every action is audited
 * in the platform audit log and announced to every node.
 *
 * <p>Provisioning runs in steps that are each idempotent (they check before they create), so a crash at any
 * step leaves a {@code provisioning} tenant that {@link #repair} completes or rolls back; there is never a
 * database without a catalog row, because the row (with the wrapped secrets) is written first. Whoever
 * provisions a tenant (a create, an attach, a repair) holds its provisioning lock, a PostgreSQL advisory lock
 * in the catalog, for as long as it works on it; the lock ends with its connection, so after a crash (kill -9,
 * a lost node) {@link #repair} knows at once that nobody is working on the tenant any more.
 */
public final class TenantService {
    public static final Pattern SLUG = Pattern.compile("[a-z][a-z0-9-]{1,39}");
    private static final Logger log = LoggerFactory.getLogger(TenantService.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The provisioning steps, in order; tests inject a failure before any of them. */
    public enum Step { ROLE, DATABASE, PRIVILEGES, SCHEMA, ACTIVATE }

    /** Called before each provisioning step; production uses {@link #NO_FAILURES}. */
    @FunctionalInterface
    public interface FailureInjector {
        void before(Step step, Tenant tenant);
    }

    public static final FailureInjector NO_FAILURES = (step, tenant) -> {};

    /** The first key of the two-key advisory locks that mark a provisioning in progress; the second is the tenant's. */
    private static final int PROVISIONING_LOCK_SPACE = 7215011;
    private static final String LOCK_PROVISIONING = "SELECT pg_advisory_xact_lock(?, ?)";
    private static final String TRY_LOCK_PROVISIONING = "SELECT pg_try_advisory_xact_lock(?, ?)";

    public record Settings(Duration retention, Duration secretRotation, Duration secretGrace) {
        public Settings {
            requireNonNull(retention, "retention is null");
            requireNonNull(secretRotation, "secretRotation is null");
            requireNonNull(secretGrace, "secretGrace is null");
        }
    }

    private final DataSource catalog;
    private final Placements placements;
    private final TenantDatabases databases;
    private final Envelope envelope;
    private final PlatformAudit audit;
    private final Clock clock;
    private final Settings settings;
    private final CatalogEvents events;
    private final DataSource provisioningLocks;
    private volatile FailureInjector failures = NO_FAILURES;
    private volatile Runnable beforeSpareCommit = () -> {};
    private volatile Runnable spareTaken = () -> {};
    /** Tenants whose schema this node has seen at this build's version (checked, migrated or provisioned). */
    private final java.util.Set<UUID> currentSchemas = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** One lock per tenant whose schema is being checked: a tenant is checked once however many requests arrive. */
    private final java.util.concurrent.ConcurrentHashMap<UUID, java.util.concurrent.locks.ReentrantLock> schemaChecks =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * @param provisioningLocks catalog connections that hold provisioning locks, a pool apart from {@code catalog}
     *                          so that provisionings holding their locks cannot take the connections they need
     */
    public TenantService(DataSource catalog, Placements placements, TenantDatabases databases, Envelope envelope,
                         PlatformAudit audit, Clock clock, Settings settings, CatalogEvents events, DataSource provisioningLocks) {
        this.events = requireNonNull(events, "events is null");
        this.provisioningLocks = requireNonNull(provisioningLocks, "provisioningLocks is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.placements = requireNonNull(placements, "placements is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.settings = requireNonNull(settings, "settings is null");
    }

    /** For tests: fail before chosen provisioning steps. */
    public void injectFailures(FailureInjector injector) {
        this.failures = requireNonNull(injector, "injector is null");
    }

    /** For tests: run (and throw from) inside the transaction that turns a spare into a tenant, before it commits. */
    public void injectSpareAssignmentFailure(Runnable failure) {
        this.beforeSpareCommit = requireNonNull(failure, "failure is null");
    }

    /** Told after a create took a spare, so that the node's {@link TenantSpares} makes another. */
    public void onSpareTaken(Runnable listener) {
        this.spareTaken = requireNonNull(listener, "listener is null");
    }

    public Settings settings() {
        return settings;
    }

    // ---- reading

    public List<Tenant> list(boolean includePurged) {
        return Sql.withConnection(catalog, connection -> TenantRepository.list(connection, includePurged ? "true" : "status <> 'purged'"));
    }

    public Tenant get(String slug) {
        validateSlug(slug);
        return Sql.withConnection(catalog, connection -> TenantRepository.findBySlug(connection, slug, false))
                .orElseThrow(() -> notFound(slug));
    }

    public Optional<Tenant> findLive(String slug) {
        if (slug == null || !SLUG.matcher(slug).matches()) {
            return Optional.empty();
        }
        return Sql.withConnection(catalog, connection -> TenantRepository.findBySlug(connection, slug, false));
    }

    public List<SigningKeys.SigningKey> signingKeys(UUID tenantId) {
        return Sql.withConnection(catalog, connection -> SigningKeys.load(connection, envelope, tenantId, clock.instant()));
    }

    /** What the admin API and the CLI show: never a secret. */
    public Map<String, Object> view(Tenant tenant) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", tenant.id());
        view.put("slug", tenant.slug());
        view.put("name", tenant.name());
        view.put("status", tenant.status().wire());
        view.put("placement", placements.placementName(tenant.placementId()));
        view.put("attached", tenant.attached());
        view.put("created_at", tenant.createdAt());
        view.put("updated_at", tenant.updatedAt());
        view.put("suspended_at", tenant.suspendedAt());
        view.put("deprovisioned_at", tenant.deprovisionedAt());
        view.put("purge_after", tenant.purgeAfter());
        view.put("purged_at", tenant.purgedAt());
        if (tenant.status() != TenantStatus.PURGED) {
            List<SigningKeys.SigningKey> keys = signingKeys(tenant.id());
            view.put("signing_key_id", keys.stream().filter(k -> k.retiresAt() == null).findFirst().map(SigningKeys.SigningKey::kid).orElse(null));
        }
        return view;
    }

    // ---- provisioning

    public Tenant create(String slug, String name, Optional<String> placementName, Actor actor) {
        validateSlug(slug);
        String displayName = validateName(name == null || name.isBlank() ? slug : name);
        Placements.Placement placement = placements.choose(placementName);
        Optional<Tenant> fromSpare = createFromSpare(slug, displayName, placement, actor);
        if (fromSpare.isPresent()) {
            return fromSpare.get();
        }
        UUID id = UUID.randomUUID();
        Instant now = clock.instant();
        String password = randomPassword();
        KeysetHandle keyset = Envelope.newDataKeyset();
        String databaseName = Tenant.databaseNameFor(id);
        Tenant tenant = new Tenant(id, slug, displayName, TenantStatus.PROVISIONING, placement.id(), databaseName, databaseName,
                envelope.wrapString(password, "tenant/" + id + "/db-credentials"), false,
                envelope.wrapKeyset(keyset, "tenant/" + id + "/data-keyset"), now, now, null, null, null, null);
        return provisioning(tenant, () -> {
            insertProvisioning(tenant, actor);
            return completeOrReport(tenant, actor);
        });
    }

    /**
     * Turns a ready spare of the placement ({@link TenantSpares}) into the tenant, in one catalog transaction: the
     * spare's row is deleted (taken with {@code SKIP LOCKED}, so concurrent creates on any node each get another
     * spare or none), and the tenant's row, its first signing key and its audit entry are written, already active.
     * Nothing outside the catalog changes: the spare's database, role and schema already carry the names of the id
     * the tenant takes. So an assignment is never half done: a failure or a crash before the commit leaves the spare
     * in the pool and no tenant. The role's password was made with the spare; the JWT secret and the data keyset are
     * made here, so they exist only from the moment the tenant does. Empty when the placement has no ready spare at
     * this build's schema version: the caller provisions as usual.
     */
    private Optional<Tenant> createFromSpare(String slug, String name, Placements.Placement placement, Actor actor) {
        Optional<MigrationVersion> schema = TenantSpares.shippedSchemaVersion();
        if (schema.isEmpty()) {
            return Optional.empty();
        }
        KeysetHandle keyset = Envelope.newDataKeyset();
        String secret = SigningKeys.newSecret(SigningKeys.DEFAULT_SECRET_LENGTH);
        Optional<Tenant> created;
        try {
            created = Sql.inTransaction(catalog, connection -> {
                Optional<TenantSpares.Spare> taken = TenantSpares.take(connection, placement.id(), schema.get());
                if (taken.isEmpty()) {
                    return Optional.<Tenant>empty();
                }
                TenantSpares.Spare spare = taken.get();
                Instant now = clock.instant();
                Tenant tenant = new Tenant(spare.id(), slug, name, TenantStatus.ACTIVE, placement.id(), spare.databaseName(),
                        spare.roleName(), spare.credentialsWrapped(), false,
                        envelope.wrapKeyset(keyset, "tenant/" + spare.id() + "/data-keyset"), now, now, null, null, null, null);
                TenantRepository.insert(connection, tenant);
                try (PreparedStatement record = connection.prepareStatement(RECORD_SCHEMA_VERSION)) {
                    record.setString(1, spare.schemaVersion()); // the spare was migrated to it
                    record.setObject(2, tenant.id());
                    record.setString(3, spare.schemaVersion());
                    record.executeUpdate();
                }
                SigningKeys.insert(connection, envelope, tenant.id(), SigningKeys.newKid(), secret, now);
                audit.append(connection, actor, "tenant.create", "tenant:" + slug, Map.of("tenant_id", tenant.id().toString(),
                        "placement", placements.placementName(placement.id()), "spare", true));
                beforeSpareCommit.run();
                CatalogEvents.publish(connection, event(tenant));
                return Optional.of(tenant);
            });
        } catch (Conflict e) {
            throw new Conflict("slug-taken", "a tenant with slug '" + slug + "' already exists");
        }
        created.ifPresent(tenant -> {
            events.local(event(tenant));
            log.info("Created tenant {} from a spare database", tenant);
            spareTaken.run();
        });
        return created;
    }

    /**
     * Adopts a ready-made database (one Heroku Postgres add-on per tenant, for example): Silo migrates it with the
     * given credentials and uses them from then on. Purging an attached tenant empties its schema instead of
     * dropping the database, which Silo does not own.
     */
    public Tenant attach(String slug, String name, String databaseUrl, Actor actor) {
        validateSlug(slug);
        String displayName = validateName(name == null || name.isBlank() ? slug : name);
        DatabaseUrl url;
        try {
            url = DatabaseUrl.parse("the tenant database URL", databaseUrl);
        } catch (ConfigException e) {
            throw new BadRequest("invalid-database-url", e.getMessage());
        }
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties())) {
            connection.isValid(5);
        } catch (SQLException e) {
            throw new BadRequest("database-unreachable", "cannot connect to " + url + " over TLS: " + e.getMessage());
        }
        Placements.Placement placement = ensureAttachedPlacement();
        UUID id = UUID.randomUUID();
        Instant now = clock.instant();
        Tenant tenant = new Tenant(id, slug, displayName, TenantStatus.PROVISIONING, placement.id(), url.database(), url.user(),
                envelope.wrapString(databaseUrl.strip(), "tenant/" + id + "/db-credentials"), true,
                envelope.wrapKeyset(Envelope.newDataKeyset(), "tenant/" + id + "/data-keyset"), now, now, null, null, null, null);
        return provisioning(tenant, () -> {
            insertProvisioning(tenant, actor);
            return completeOrReport(tenant, actor);
        });
    }

    private Placements.Placement ensureAttachedPlacement() {
        return placements.list().stream().filter(p -> p.kind().equals("embedded")).findFirst()
                .orElseGet(() -> placements.choose(Optional.empty()));
    }

    private void insertProvisioning(Tenant tenant, Actor actor) {
        try {
            Sql.inTransaction(catalog, connection -> {
                TenantRepository.insert(connection, tenant);
                SigningKeys.insert(connection, envelope, tenant.id(), SigningKeys.newKid(),
                        SigningKeys.newSecret(SigningKeys.DEFAULT_SECRET_LENGTH), tenant.createdAt());
                audit.append(connection, actor, "tenant.provision.start", "tenant:" + tenant.slug(),
                        Map.of("tenant_id", tenant.id().toString(), "placement", placements.placementName(tenant.placementId()),
                                "attached", tenant.attached()));
                return null;
            });
        } catch (Conflict e) {
            throw new Conflict("slug-taken", "a tenant with slug '" + tenant.slug() + "' already exists");
        }
    }

    private Tenant completeOrReport(Tenant tenant, Actor actor) {
        try {
            return complete(tenant, actor);
        } catch (RuntimeException e) {
            log.error("Provisioning of tenant {} stopped: {}", tenant, e.toString());
            throw new Unavailable("provisioning-incomplete", "tenant '" + tenant.slug() + "' could not be provisioned ("
                    + e.getMessage() + "); it stays in 'provisioning' until Silo completes or rolls it back, "
                    + "within two minutes (or at once with `silo tenants repair`)", Duration.ofSeconds(30));
        }
    }

    /** Runs every provisioning step; each one first checks whether it is already done. */
    private Tenant complete(Tenant tenant, Actor actor) {
        if (!tenant.attached()) {
            String password = envelope.unwrapString(tenant.credentialsWrapped(), tenant.credentialsContext());
            DatabaseUrl admin = placements.adminUrl(tenant.placementId(), null);
            try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties())) {
                failures.before(Step.ROLE, tenant);
                createRole(connection, tenant.roleName(), password);

                failures.before(Step.DATABASE, tenant);
                createDatabase(connection, tenant.roleName(), tenant.databaseName());

                failures.before(Step.PRIVILEGES, tenant);
                revokePublic(connection, tenant.databaseName());
            } catch (SQLException e) {
                throw new IllegalStateException("SQLSTATE " + e.getSQLState() + ": " + e.getMessage(), e);
            }
        }

        failures.before(Step.SCHEMA, tenant);
        recordSchemaVersion(tenant, migrate(tenant));

        failures.before(Step.ACTIVATE, tenant);
        Tenant activated = Sql.inTransaction(catalog, connection -> {
            Tenant current = TenantRepository.findById(connection, tenant.id(), true).orElseThrow(() -> notFound(tenant.slug()));
            if (current.status() != TenantStatus.PROVISIONING) {
                return current;
            }
            Tenant active = with(current, TenantStatus.ACTIVE);
            TenantRepository.update(connection, active);
            audit.append(connection, actor, "tenant.create", "tenant:" + tenant.slug(), Map.of("tenant_id", tenant.id().toString()));
            CatalogEvents.publish(connection, event(active));
            return active;
        });
        events.local(event(activated));
        return activated;
    }

    /**
     * Migrates the tenant schema over a connection that logs in as the tenant's own role; returns the version the
     * schema is at now, which after a successful migration is the newest this build ships.
     */
    public MigrationVersion migrate(Tenant tenant) {
        MigrationVersion version = migrate(placements.tenantUrl(tenant), tenant.slug());
        currentSchemas.add(tenant.id());
        return version;
    }

    /**
     * Makes sure the tenant's schema is at this build's migrations before it is used: the first call for a tenant
     * on this node reads its migration history (one query) and runs Flyway only if the schema is behind; every
     * later call is a look-up in memory. Concurrent first calls for one tenant wait for one check (a lock per
     * tenant; a {@link java.util.concurrent.locks.ReentrantLock}, so a waiting virtual thread does not pin its
     * carrier). Requests call it through {@link TenantDirectory#requireServing}; the start's background checks
     * ({@code TenantSchemas}) through the same guard, so the two never migrate a tenant twice. A failed check
     * answers 503 and is retried by the next call.
     *
     * @return whether Flyway ran
     */
    public boolean ensureCurrentSchema(Tenant tenant) {
        if (currentSchemas.contains(tenant.id())) {
            return false;
        }
        java.util.concurrent.locks.ReentrantLock lock = schemaChecks.computeIfAbsent(tenant.id(),
                id -> new java.util.concurrent.locks.ReentrantLock());
        lock.lock();
        try {
            if (currentSchemas.contains(tenant.id())) {
                return false;
            }
            Optional<MigrationVersion> shipped = TenantSpares.shippedSchemaVersion();
            if (shipped.isPresent() && recordedSchemaVersion(tenant).map(v -> v.compareTo(shipped.get()) >= 0).orElse(false)) {
                currentSchemas.add(tenant.id()); // the catalog's word: no session to the tenant's database
                return false;
            }
            if (shipped.isPresent()) {
                MigrationVersion applied = appliedSchemaVersion(tenant);
                if (applied.compareTo(shipped.get()) >= 0) {
                    recordSchemaVersion(tenant, applied);
                    currentSchemas.add(tenant.id());
                    return false;
                }
            }
            recordSchemaVersion(tenant, migrate(tenant));
            log.info("Migrated the schema of tenant {} to this build's version before using it", tenant.slug());
            return true;
        } catch (RuntimeException e) {
            if (e instanceof dev.silo.platform.problem.Problem) {
                throw e;
            }
            log.warn("Cannot bring the schema of tenant {} up to date: {}", tenant.slug(), e.toString());
            throw new Unavailable("tenant-schema-unavailable", "tenant '" + tenant.slug() + "' cannot be served yet; "
                    + "try again in a few seconds", Duration.ofSeconds(5));
        } finally {
            lock.unlock();
        }
    }

    private static final String RECORDED_SCHEMA_VERSION = "SELECT schema_version FROM tenants WHERE id = ?";
    private static final String RECORD_SCHEMA_VERSION =
            "UPDATE tenants SET schema_version = ? WHERE id = ? AND schema_version IS DISTINCT FROM ?";

    /**
     * The schema version the catalog says the tenant's database is at (catalog V13), written only by a node that
     * has just migrated or read that database's history; empty when unknown or unreadable (the caller then reads
     * the tenant's own history). Restores and moves leave their copy at this build's version or newer.
     */
    private Optional<MigrationVersion> recordedSchemaVersion(Tenant tenant) {
        try {
            return Sql.withConnection(catalog, connection -> {
                try (PreparedStatement statement = connection.prepareStatement(RECORDED_SCHEMA_VERSION)) {
                    statement.setObject(1, tenant.id());
                    try (ResultSet rs = statement.executeQuery()) {
                        return rs.next() && rs.getString(1) != null
                                ? Optional.of(MigrationVersion.fromVersion(rs.getString(1))) : Optional.<MigrationVersion>empty();
                    }
                }
            });
        } catch (RuntimeException e) {
            log.debug("Cannot read the recorded schema version of tenant {}: {}", tenant.slug(), e.toString());
            return Optional.empty();
        }
    }

    /** Records the version a tenant's database was seen at; a failure only costs the next node a session to it. */
    private void recordSchemaVersion(Tenant tenant, MigrationVersion version) {
        if (version == null || MigrationVersion.EMPTY.equals(version)) {
            return;
        }
        try {
            Sql.withConnection(catalog, connection -> {
                try (PreparedStatement statement = connection.prepareStatement(RECORD_SCHEMA_VERSION)) {
                    statement.setString(1, version.getVersion());
                    statement.setObject(2, tenant.id());
                    statement.setString(3, version.getVersion());
                    return statement.executeUpdate();
                }
            });
        } catch (RuntimeException e) {
            log.warn("Cannot record the schema version of tenant {} in the catalog: {}", tenant.slug(), e.toString());
        }
    }

    /** Migrates the tenant schema at {@code url}, which logs in as the database's own role. */
    static MigrationVersion migrate(DatabaseUrl url, String name) {
        try (HikariDataSource dataSource = Pools.create("migrate-" + name, url, 2, 0, Duration.ofSeconds(10))) {
            Flyway flyway = Flyway.configure()
                    .dataSource(dataSource)
                    .locations("classpath:db/tenant")
                    .failOnMissingLocations(true)
                    .load();
            flyway.migrate();
            MigrationInfo current = flyway.info().current();
            return current == null ? MigrationVersion.EMPTY : current.getVersion();
        }
    }

    private static final String APPLIED_VERSIONS = """
            SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL
            """;

    /**
     * The newest migration applied to the tenant's schema, read from Flyway's history over one connection as the
     * tenant's role: much cheaper than a Flyway run, so a start checks every tenant and migrates only those behind.
     */
    public MigrationVersion appliedSchemaVersion(Tenant tenant) {
        DatabaseUrl url = placements.tenantUrl(tenant);
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties());
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery(APPLIED_VERSIONS)) {
            MigrationVersion newest = MigrationVersion.EMPTY;
            while (rs.next()) {
                MigrationVersion version = MigrationVersion.fromVersion(rs.getString(1));
                newest = version.compareTo(newest) > 0 ? version : newest;
            }
            return newest;
        } catch (SQLException e) {
            if ("42P01".equals(e.getSQLState())) {
                return MigrationVersion.EMPTY; // no history table: never migrated
            }
            throw Sql.translate(e);
        }
    }

    /** What {@link #repair} did to one tenant: {@code completed}, {@code rolled-back} or {@code failed}. */
    public record RepairResult(String slug, String outcome, String detail) {}

    /**
     * Completes, or rolls back, every tenant left in {@code provisioning}, started more than {@code olderThan}
     * ago, that nobody is working on: a provisioning in progress on any node or command holds the tenant's
     * provisioning lock and is skipped; one interrupted by a crash lost its lock with its connection and is
     * repaired. Without {@code rollback} a tenant that cannot be completed is rolled back.
     */
    public List<RepairResult> repair(boolean rollback, Duration olderThan, Actor actor) {
        List<Tenant> stuck = Sql.withConnection(catalog, connection ->
                TenantRepository.list(connection, "status = 'provisioning' AND created_at < ?", clock.instant().minus(olderThan)));
        List<RepairResult> results = new ArrayList<>();
        for (Tenant listed : stuck) {
            tryProvisioning(listed, () -> {
                // Re-read under the lock: whoever held it may have finished (or rolled back) in the meantime.
                Sql.withConnection(catalog, connection -> TenantRepository.findById(connection, listed.id(), false))
                        .filter(tenant -> tenant.status() == TenantStatus.PROVISIONING)
                        .ifPresent(tenant -> results.add(repairOne(tenant, rollback, actor)));
            });
        }
        return results;
    }

    private RepairResult repairOne(Tenant tenant, boolean rollback, Actor actor) {
        if (!rollback) {
            try {
                complete(tenant, actor);
                return new RepairResult(tenant.slug(), "completed", "provisioning finished");
            } catch (RuntimeException e) {
                log.warn("Could not complete provisioning of {}: {}; rolling back", tenant, e.toString());
            }
        }
        try {
            rollBack(tenant, actor);
            return new RepairResult(tenant.slug(), "rolled-back", "database, role and keys removed; the slug is free");
        } catch (RuntimeException e) {
            return new RepairResult(tenant.slug(), "failed", e.getMessage());
        }
    }

    /** Runs a provisioning of {@code tenant} holding its provisioning lock (waiting for it if somebody holds it). */
    private <T> T provisioning(Tenant tenant, Supplier<T> work) {
        return underProvisioningLock(tenant, LOCK_PROVISIONING, work).orElseThrow();
    }

    /** Runs {@code work} holding the tenant's provisioning lock, or does nothing when somebody else holds it. */
    private void tryProvisioning(Tenant tenant, Runnable work) {
        underProvisioningLock(tenant, TRY_LOCK_PROVISIONING, () -> {
            work.run();
            return Boolean.TRUE;
        });
    }

    /**
     * A transaction-level advisory lock on a connection of its own, open for the whole provisioning: however the
     * work ends (an error, a connection returned to the pool, a crash of this process), the transaction ends and
     * the lock with it, so no lock outlives its holder.
     */
    private <T> Optional<T> underProvisioningLock(Tenant tenant, String lockSql, Supplier<T> work) {
        try (Connection connection = provisioningLocks.getConnection()) {
            connection.setAutoCommit(false);
            try {
                try (PreparedStatement lock = connection.prepareStatement(lockSql)) {
                    lock.setInt(1, PROVISIONING_LOCK_SPACE);
                    lock.setInt(2, tenant.id().hashCode());
                    try (ResultSet rs = lock.executeQuery()) {
                        // pg_advisory_xact_lock returns void (read as null); the try variant says whether it got it
                        if (rs.next() && lockSql.equals(TRY_LOCK_PROVISIONING) && !rs.getBoolean(1)) {
                            return Optional.empty();
                        }
                    }
                }
                return Optional.of(work.get());
            } finally {
                endLockTransaction(connection);
            }
        } catch (SQLException e) {
            throw Sql.translate(e);
        }
    }

    private static void endLockTransaction(Connection connection) {
        try {
            connection.rollback();
            connection.setAutoCommit(true);
        } catch (SQLException e) {
            // A broken connection: its server session, and the lock with it, is gone; the pool discards it.
            log.debug("Provisioning lock connection failed while releasing: {}", e.toString());
        }
    }

    private void rollBack(Tenant tenant, Actor actor) {
        dropDatabase(tenant);
        Sql.inTransaction(catalog, connection -> {
            SigningKeys.deleteAll(connection, tenant.id());
            TenantRepository.delete(connection, tenant.id());
            audit.append(connection, actor, "tenant.provision.rollback", "tenant:" + tenant.slug(), Map.of("tenant_id", tenant.id().toString()));
            CatalogEvents.publish(connection, event(tenant));
            return null;
        });
        events.local(event(tenant));
    }

    // ---- lifecycle

    public Tenant suspend(String slug, Actor actor) {
        return transition(slug, actor, "tenant.suspend", TenantStatus.SUSPENDED, List.of(TenantStatus.ACTIVE));
    }

    public Tenant resume(String slug, Actor actor) {
        return transition(slug, actor, "tenant.resume", TenantStatus.ACTIVE, List.of(TenantStatus.SUSPENDED));
    }

    /** Blocks access at once; the data is kept for the retention window (claim C18), then purged. */
    public Tenant deprovision(String slug, Actor actor) {
        Tenant tenant = transition(slug, actor, "tenant.deprovision", TenantStatus.DEPROVISIONED,
                List.of(TenantStatus.ACTIVE, TenantStatus.SUSPENDED));
        setLogin(tenant, false);
        return tenant;
    }

    /** Undoes a deprovisioning within the retention window: the data comes back intact. */
    public Tenant restore(String slug, Actor actor) {
        Tenant before = get(slug);
        if (before.status() == TenantStatus.DEPROVISIONED) {
            setLogin(before, true);
        }
        return transition(slug, actor, "tenant.restore", TenantStatus.ACTIVE, List.of(TenantStatus.DEPROVISIONED));
    }

    private Tenant transition(String slug, Actor actor, String action, TenantStatus target, List<TenantStatus> from) {
        validateSlug(slug);
        Tenant updated = Sql.inTransaction(catalog, connection -> {
            Tenant tenant = TenantRepository.findBySlug(connection, slug, true).orElseThrow(() -> notFound(slug));
            if (!from.contains(tenant.status())) {
                throw new Conflict("invalid-state", "tenant '" + slug + "' is " + tenant.status().wire() + "; "
                        + action.substring("tenant.".length()) + " applies to a tenant that is "
                        + String.join(" or ", from.stream().map(TenantStatus::wire).toList()));
            }
            Tenant next = with(tenant, target);
            TenantRepository.update(connection, next);
            audit.append(connection, actor, action, "tenant:" + slug, Map.of("tenant_id", tenant.id().toString(),
                    "from", tenant.status().wire()));
            CatalogEvents.publish(connection, event(next));
            return next;
        });
        events.local(event(updated));
        if (target != TenantStatus.ACTIVE) {
            databases.evict(updated.id());
        }
        return updated;
    }

    private Tenant with(Tenant t, TenantStatus status) {
        Instant now = clock.instant();
        return switch (status) {
            case ACTIVE -> new Tenant(t.id(), t.slug(), t.name(), status, t.placementId(), t.databaseName(), t.roleName(),
                    t.credentialsWrapped(), t.attached(), t.dataKeysetWrapped(), t.createdAt(), now, null, null, null, null);
            case SUSPENDED -> new Tenant(t.id(), t.slug(), t.name(), status, t.placementId(), t.databaseName(), t.roleName(),
                    t.credentialsWrapped(), t.attached(), t.dataKeysetWrapped(), t.createdAt(), now, now, null, null, null);
            case DEPROVISIONED -> new Tenant(t.id(), t.slug(), t.name(), status, t.placementId(), t.databaseName(), t.roleName(),
                    t.credentialsWrapped(), t.attached(), t.dataKeysetWrapped(), t.createdAt(), now, t.suspendedAt(), now,
                    now.plus(settings.retention()), null);
            case PURGED -> new Tenant(t.id(), t.slug(), t.name(), status, t.placementId(), t.databaseName(), t.roleName(),
                    null, t.attached(), null, t.createdAt(), now, t.suspendedAt(), t.deprovisionedAt(), t.purgeAfter(), now);
            case PROVISIONING -> throw new IllegalArgumentException("cannot go back to provisioning");
        };
    }

    /** Defense in depth: a deprovisioned tenant's role cannot log in at all, and its sessions are ended. */
    private void setLogin(Tenant tenant, boolean login) {
        if (tenant.attached()) {
            return;
        }
        DatabaseUrl admin = placements.adminUrl(tenant.placementId(), null);
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties())) {
            execute(connection, "ALTER ROLE " + Sql.identifier(tenant.roleName()) + (login ? " LOGIN" : " NOLOGIN"));
            if (!login) {
                try (PreparedStatement terminate = connection.prepareStatement(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ?")) {
                    terminate.setString(1, tenant.roleName());
                    terminate.execute();
                }
            }
        } catch (SQLException e) {
            throw Sql.translate(e);
        }
    }

    /**
     * Destroys a deprovisioned tenant: drops its database and role, and destroys its wrapped credentials, data
     * keyset and signing keys, so that any backup of its data becomes unreadable. The slug becomes free.
     * Without {@code now} only a tenant past its retention window is purged.
     */
    public Tenant purge(String slug, boolean now, Actor actor) {
        Tenant tenant = get(slug);
        if (tenant.status() != TenantStatus.DEPROVISIONED) {
            throw new Conflict("invalid-state", "tenant '" + slug + "' is " + tenant.status().wire()
                    + "; deprovision it first (purge destroys a deprovisioned tenant)");
        }
        if (!now && tenant.purgeAfter() != null && tenant.purgeAfter().isAfter(clock.instant())) {
            throw new Conflict("retention-window", "tenant '" + slug + "' is kept until " + tenant.purgeAfter()
                    + "; purge it earlier with now=true");
        }
        return purge(tenant, actor);
    }

    private Tenant purge(Tenant tenant, Actor actor) {
        databases.evict(tenant.id());
        dropDatabase(tenant);
        Tenant purged = Sql.inTransaction(catalog, connection -> {
            Tenant current = TenantRepository.findById(connection, tenant.id(), true).orElseThrow(() -> notFound(tenant.slug()));
            Tenant next = with(current, TenantStatus.PURGED);
            SigningKeys.deleteAll(connection, tenant.id());
            TenantRepository.update(connection, next);
            audit.append(connection, actor, "tenant.purge", "tenant:" + tenant.slug(), Map.of("tenant_id", tenant.id().toString(),
                    "database", tenant.databaseName()));
            CatalogEvents.publish(connection, event(next));
            return next;
        });
        events.local(event(purged));
        log.info("Purged tenant {}: database, role and keys destroyed", purged);
        return purged;
    }

    /** Purges every tenant whose retention window has ended; the scheduler calls this. */
    public int purgeDue(Actor actor) {
        List<Tenant> due = Sql.withConnection(catalog, connection ->
                TenantRepository.list(connection, "status = 'deprovisioned' AND purge_after <= ?", clock.instant()));
        int purged = 0;
        for (Tenant tenant : due) {
            try {
                purge(tenant, actor);
                purged++;
            } catch (RuntimeException e) {
                log.error("Could not purge {}: {}", tenant, e.toString());
            }
        }
        return purged;
    }

    private void dropDatabase(Tenant tenant) {
        if (tenant.attached()) {
            if (tenant.credentialsWrapped() == null) {
                return;
            }
            DatabaseUrl url = placements.tenantUrl(tenant);
            try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties())) {
                execute(connection, "DROP SCHEMA public CASCADE");
                execute(connection, "CREATE SCHEMA public");
            } catch (SQLException e) {
                throw Sql.translate(e);
            }
            return;
        }
        DatabaseUrl admin = placements.adminUrl(tenant.placementId(), null);
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties())) {
            dropDatabaseAndRole(connection, tenant.databaseName(), tenant.roleName());
        } catch (SQLException e) {
            throw Sql.translate(e);
        }
    }

    // ---- signing secrets

    /**
     * Adds a new signing key that signs from now on. The previous key still verifies for the grace period
     * (the access-token lifetime, so nobody is logged out), or stops at once with {@code revokePrevious}.
     */
    public String rotateSecret(String slug, boolean revokePrevious, Actor actor) {
        Tenant tenant = get(slug);
        if (tenant.status() == TenantStatus.PROVISIONING || tenant.status() == TenantStatus.PURGED) {
            throw new Conflict("invalid-state", "tenant '" + slug + "' is " + tenant.status().wire());
        }
        return rotate(tenant, revokePrevious, actor);
    }

    private String rotate(Tenant tenant, boolean revokePrevious, Actor actor) {
        String kid = SigningKeys.newKid();
        Instant now = clock.instant();
        Sql.inTransaction(catalog, connection -> {
            SigningKeys.retireCurrent(connection, tenant.id(), revokePrevious ? now : now.plus(settings.secretGrace()));
            SigningKeys.insert(connection, envelope, tenant.id(), kid, SigningKeys.newSecret(SigningKeys.DEFAULT_SECRET_LENGTH), now);
            audit.append(connection, actor, "tenant.rotate-secret", "tenant:" + tenant.slug(),
                    Map.of("tenant_id", tenant.id().toString(), "kid", kid, "revoke_previous", revokePrevious));
            CatalogEvents.publish(connection, event(tenant));
            return null;
        });
        events.local(event(tenant));
        return kid;
    }

    /** Rotates every secret older than the rotation period and forgets keys retired a day ago; the scheduler calls this. */
    public int rotateDue(Actor actor) {
        Instant cutoff = clock.instant().minus(settings.secretRotation());
        List<Tenant> due = Sql.withConnection(catalog, connection -> TenantRepository.list(connection, """
                status IN ('active', 'suspended') AND NOT EXISTS (
                    SELECT 1 FROM tenant_signing_keys k WHERE k.tenant_id = tenants.id AND k.retires_at IS NULL AND k.created_at > ?)
                """, cutoff));
        for (Tenant tenant : due) {
            rotate(tenant, false, actor);
        }
        Sql.withConnection(catalog, connection -> SigningKeys.deleteRetiredBefore(connection, clock.instant().minus(Duration.ofDays(1))));
        return due.size();
    }

    // ---- CORS

    /** The origins whose browser apps may call this tenant's API ({@link CorsOrigins}); the tenant cache holds them. */
    public CorsOrigins corsOrigins(UUID tenantId) {
        return Sql.withConnection(catalog, connection -> TenantRepository.corsOrigins(connection, tenantId));
    }

    /**
     * Replaces the tenant's allowed CORS origins (validated by {@link CorsOrigins#parse}), audited as
     * {@code tenant.cors-origins.set} and announced to every node like a suspension (but as a
     * {@link #settingsEvent}, which leaves the tenant's connection pools alone), so every node's tenant cache drops
     * the tenant and its next request or preflight sees the new list.
     */
    public CorsOrigins setCorsOrigins(String slug, List<String> origins, Actor actor) {
        CorsOrigins parsed = CorsOrigins.parse(origins);
        validateSlug(slug);
        Tenant tenant = Sql.inTransaction(catalog, connection -> {
            Tenant current = TenantRepository.findBySlug(connection, slug, true).orElseThrow(() -> notFound(slug));
            CorsOrigins previous = TenantRepository.corsOrigins(connection, current.id());
            TenantRepository.updateCorsOrigins(connection, current.id(), parsed, clock.instant());
            audit.append(connection, actor, "tenant.cors-origins.set", "tenant:" + slug, Map.of("tenant_id",
                    current.id().toString(), "cors_origins", parsed.origins(), "previous", previous.origins()));
            CatalogEvents.publish(connection, settingsEvent(current));
            return current;
        });
        events.local(settingsEvent(tenant));
        return parsed;
    }

    // ---- restoring (issue 13.1)

    /**
     * Whether a restore is swapping the tenant's database now: its routes answer 503 {@code tenant-restoring}. Only
     * while the restore's job is running and beating ({@link dev.silo.platform.jobs.Jobs#STALE}): a restore whose
     * process died does not keep the tenant shut.
     */
    public boolean restoring(UUID tenantId) {
        return Sql.withConnection(catalog, connection -> {
            try (java.sql.PreparedStatement select = connection.prepareStatement("""
                    SELECT 1 FROM tenant_restoring r JOIN jobs j ON j.id = r.job_id
                    WHERE r.tenant_id = ? AND j.state = 'running' AND j.heartbeat_at > now() - ?::interval
                    """)) {
                select.setObject(1, tenantId);
                select.setString(2, dev.silo.platform.jobs.Jobs.STALE.toSeconds() + " seconds");
                try (java.sql.ResultSet rs = select.executeQuery()) {
                    return rs.next();
                }
            }
        });
    }

    /** Shuts (or, with {@code job} null, opens again) the tenant's routes for a restore's swap, on every node at once. */
    public void setRestoring(Tenant tenant, UUID job) {
        Sql.inTransaction(catalog, connection -> {
            try (java.sql.PreparedStatement change = connection.prepareStatement(job == null
                    ? "DELETE FROM tenant_restoring WHERE tenant_id = ?"
                    : "INSERT INTO tenant_restoring (tenant_id, job_id) VALUES (?, ?) "
                            + "ON CONFLICT (tenant_id) DO UPDATE SET job_id = excluded.job_id, since = now()")) {
                change.setObject(1, tenant.id());
                if (job != null) {
                    change.setObject(2, job);
                }
                change.executeUpdate();
            }
            // The full tenant event: it also drops the tenant's cached sessions, which a restore may have replaced.
            CatalogEvents.publish(connection, event(tenant));
            return null;
        });
        events.local(event(tenant));
    }

    // ---- moving (issue 18.2; the copy itself is dev.silo.move)

    /**
     * Whether a move is copying the tenant's last changes now: its writes answer 503 {@code tenant-moving}, its reads
     * go on. Only while the move's job is running and beating: a move whose process died does not keep the tenant
     * frozen.
     */
    public boolean moving(UUID tenantId) {
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT 1 FROM tenant_moves m JOIN jobs j ON j.id = m.job_id
                    WHERE m.tenant_id = ? AND m.state = 'frozen' AND j.state = 'running' AND j.heartbeat_at > now() - ?::interval
                    """)) {
                select.setObject(1, tenantId);
                select.setString(2, dev.silo.platform.jobs.Jobs.STALE.toSeconds() + " seconds");
                try (ResultSet rs = select.executeQuery()) {
                    return rs.next();
                }
            }
        });
    }

    /**
     * Builds an empty copy of the tenant on another placement the way provisioning does (role with the same
     * password, database owned by it, no PUBLIC access) and migrates its schema as the tenant's role. Each step
     * first checks whether it is done, so a retried move reuses what an interrupted one left.
     */
    public void buildCopy(Tenant tenant, UUID placementId) {
        requireNotAttached(tenant);
        String password = envelope.unwrapString(tenant.credentialsWrapped(), tenant.credentialsContext());
        DatabaseUrl admin = placements.adminUrl(placementId, null);
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties())) {
            createRole(connection, tenant.roleName(), password);
            createDatabase(connection, tenant.roleName(), tenant.databaseName());
            revokePublic(connection, tenant.databaseName());
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create the database of tenant '" + tenant.slug() + "' on placement '"
                    + placements.placementName(placementId) + "': SQLSTATE " + e.getSQLState() + ": " + e.getMessage(), e);
        }
        migrate(placements.tenantUrl(tenant.onPlacement(placementId)), tenant.slug());
    }

    /** Drops the tenant's database and role on a placement it is not served from (a failed move's copy, a moved source). */
    public void dropCopy(Tenant tenant, UUID placementId) {
        requireNotAttached(tenant);
        DatabaseUrl admin = placements.adminUrl(placementId, null);
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties())) {
            dropDatabaseAndRole(connection, tenant.databaseName(), tenant.roleName());
        } catch (SQLException e) {
            throw Sql.translate(e);
        }
    }

    /**
     * After a move: the tenant's role on the source can no longer log in, and its sessions there are ended (but the
     * {@code keep} ones, the move's own), so that a node holding a stale pool cannot write where nobody reads.
     */
    public void retireCopy(Tenant tenant, UUID placementId, java.util.Collection<Integer> keep) {
        requireNotAttached(tenant);
        DatabaseUrl admin = placements.adminUrl(placementId, null);
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties())) {
            execute(connection, "ALTER ROLE " + Sql.identifier(tenant.roleName()) + " NOLOGIN");
            try (PreparedStatement terminate = connection.prepareStatement(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ? AND NOT pid = ANY (?)")) {
                terminate.setString(1, tenant.roleName());
                terminate.setArray(2, connection.createArrayOf("int4", keep.toArray()));
                terminate.execute();
            }
        } catch (SQLException e) {
            throw Sql.translate(e);
        }
    }

    /**
     * Points the catalog at the tenant's copy on {@code target}, in one transaction with {@code alsoInTransaction}
     * (the move's own record), audited as {@code tenant.move} and announced to every node, which drop the tenant's
     * cached entry and retire its pool: their next request connects to the target. Refused (409) if the tenant is no
     * longer on {@code source}.
     */
    public Tenant switchPlacement(Tenant tenant, UUID source, UUID target, Actor actor, Map<String, ?> detail,
                                  Sql.Work<?> alsoInTransaction) {
        Tenant switched = Sql.inTransaction(catalog, connection -> {
            Tenant current = TenantRepository.findById(connection, tenant.id(), true).orElseThrow(() -> notFound(tenant.slug()));
            if (!current.placementId().equals(source)) {
                throw new Conflict("placement-changed", "tenant '" + tenant.slug() + "' is no longer on placement '"
                        + placements.placementName(source) + "'");
            }
            Instant now = clock.instant();
            TenantRepository.updatePlacement(connection, tenant.id(), target, now);
            alsoInTransaction.run(connection);
            Map<String, Object> all = new LinkedHashMap<>(detail);
            all.put("tenant_id", tenant.id().toString());
            all.put("from", placements.placementName(source));
            all.put("to", placements.placementName(target));
            audit.append(connection, actor, "tenant.move", "tenant:" + tenant.slug(), all);
            Tenant next = TenantRepository.findById(connection, tenant.id(), false).orElseThrow();
            CatalogEvents.publish(connection, event(next));
            return next;
        });
        events.local(event(switched));
        databases.evict(switched.id());
        return switched;
    }

    private static void requireNotAttached(Tenant tenant) {
        if (tenant.attached()) {
            throw new Conflict("tenant-attached", "tenant '" + tenant.slug() + "' is an attached database, which Silo "
                    + "does not own and cannot move");
        }
    }

    // ---- rate limit

    /** The operator's rate limit of the tenant ({@code RateLimit.spec} text or {@code off}); empty: the node's default. */
    public Optional<String> rateLimit(UUID tenantId) {
        return Sql.withConnection(catalog, connection -> TenantRepository.rateLimit(connection, tenantId));
    }

    /**
     * Sets the tenant's rate limit ({@code RATE/UNIT[,BURST]}, {@code off}, or {@code default} for the node's
     * {@code SILO_RATE_LIMIT_TENANT}), audited as {@code tenant.rate-limit.set} and announced to every node as a
     * {@link #settingsEvent}, so every node's tenant cache drops the tenant and its next request uses the new limit.
     *
     * @return the stored value, empty for the default
     */
    public Optional<String> setRateLimit(String slug, String rateLimit, Actor actor) {
        Optional<String> parsed = parseRateLimit(rateLimit);
        validateSlug(slug);
        Tenant tenant = Sql.inTransaction(catalog, connection -> {
            Tenant current = TenantRepository.findBySlug(connection, slug, true).orElseThrow(() -> notFound(slug));
            Optional<String> previous = TenantRepository.rateLimit(connection, current.id());
            TenantRepository.updateRateLimit(connection, current.id(), parsed, clock.instant());
            audit.append(connection, actor, "tenant.rate-limit.set", "tenant:" + slug, Map.of("tenant_id",
                    current.id().toString(), "rate_limit", parsed.orElse("default"), "previous", previous.orElse("default")));
            CatalogEvents.publish(connection, settingsEvent(current));
            return current;
        });
        events.local(settingsEvent(tenant));
        return parsed;
    }

    private static Optional<String> parseRateLimit(String rateLimit) {
        if (rateLimit == null || rateLimit.isBlank()) {
            throw new BadRequest("invalid-rate-limit", "field 'rate_limit' is required: " + dev.silo.platform.ratelimit.RateLimit.SYNTAX_HELP
                    + ", or default", Map.of("field", "rate_limit"));
        }
        if (rateLimit.strip().equalsIgnoreCase("default")) {
            return Optional.empty();
        }
        try {
            return Optional.of(dev.silo.platform.ratelimit.RateLimit.parse(rateLimit).map(dev.silo.platform.ratelimit.RateLimit::spec)
                    .orElse("off"));
        } catch (IllegalArgumentException e) {
            throw new BadRequest("invalid-rate-limit", "'rate_limit' " + e.getMessage() + " (or default)", Map.of("field", "rate_limit"));
        }
    }

    // ---- helpers

    public static String event(Tenant tenant) {
        return "tenant:" + tenant.id() + ":" + tenant.slug();
    }

    /** A change of a tenant's settings that its cached entry holds (CORS origins): no pool needs closing. */
    public static String settingsEvent(Tenant tenant) {
        return "tenant-settings:" + tenant.id() + ":" + tenant.slug();
    }

    public static void validateSlug(String slug) {
        if (slug == null || !SLUG.matcher(slug).matches()) {
            throw new BadRequest("invalid-slug", "a slug is 2-40 characters of lowercase letters a-z, digits and '-', "
                    + "starting with a letter (got " + (slug == null ? "nothing" : describe(slug)) + ")");
        }
    }

    private static String describe(String slug) {
        if (slug.length() > 40) {
            return slug.length() + " characters";
        }
        return slug.chars().allMatch(c -> c >= 0x20 && c < 0x7f) ? "'" + slug + "'" : "characters outside a-z, 0-9 and '-'";
    }

    private static String validateName(String name) {
        String stripped = name.strip();
        if (stripped.length() > 200 || stripped.chars().anyMatch(Character::isISOControl)) {
            throw new BadRequest("invalid-name", "a tenant name is at most 200 characters, without control characters");
        }
        return stripped;
    }

    private static NotFound notFound(String slug) {
        return new NotFound("tenant-not-found", "no tenant with slug '" + slug + "'");
    }

    static String randomPassword() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /**
     * A LOGIN role without SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, unless it exists, and its
     * password set. The clear password never travels to the server: only its SCRAM verifier, computed here with few
     * iterations because the password is 256 random bits (see ScramVerifier).
     */
    static void createRole(Connection admin, String roleName, String password) throws SQLException {
        String role = Sql.identifier(roleName);
        if (!exists(admin, "SELECT 1 FROM pg_roles WHERE rolname = ?", roleName)) {
            execute(admin, "CREATE ROLE " + role + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                    + "NOBYPASSRLS CONNECTION LIMIT 32");
        }
        execute(admin, "ALTER ROLE " + role + " PASSWORD '" + ScramVerifier.of(password, ScramVerifier.TENANT_ITERATIONS) + "'");
        if (!isSuperuser(admin)) {
            // PostgreSQL 16+: CREATE DATABASE ... OWNER needs membership in the owner role.
            execute(admin, "GRANT " + role + " TO CURRENT_USER");
        }
    }

    /** The database owned by the role, unless it exists. */
    static void createDatabase(Connection admin, String roleName, String databaseName) throws SQLException {
        if (!exists(admin, "SELECT 1 FROM pg_database WHERE datname = ?", databaseName)) {
            execute(admin, "CREATE DATABASE " + Sql.identifier(databaseName) + " OWNER " + Sql.identifier(roleName)
                    + " TEMPLATE template0 ENCODING 'UTF8'");
        }
    }

    /** Nobody but the owner (and the admin account) may connect. */
    static void revokePublic(Connection admin, String databaseName) throws SQLException {
        execute(admin, "REVOKE ALL ON DATABASE " + Sql.identifier(databaseName) + " FROM PUBLIC");
    }

    /** Drops the database (closing its sessions) and the role, each if it exists. */
    static void dropDatabaseAndRole(Connection admin, String databaseName, String roleName) throws SQLException {
        execute(admin, "DROP DATABASE IF EXISTS " + Sql.identifier(databaseName) + " WITH (FORCE)");
        execute(admin, "DROP ROLE IF EXISTS " + Sql.identifier(roleName));
    }

    private static boolean exists(Connection connection, String sql, String parameter) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(sql)) {
            select.setString(1, parameter);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next();
            }
        }
    }

    private static boolean isSuperuser(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    private static void execute(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }
}

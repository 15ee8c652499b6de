package dev.silo.app;

import com.zaxxer.hikari.HikariDataSource;
import dev.silo.audit.AuditAnchors;
import dev.silo.audit.AuditKeys;
import dev.silo.audit.PlatformAudit;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.HashingGate;
import dev.silo.auth.PasswordHasher;
import dev.silo.auth.PasswordPolicy;
import dev.silo.user.UserService;
import dev.silo.operator.OperatorService;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.cpu.BulkWork;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.crypto.MasterKeys;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.db.CatalogMigrations;
import dev.silo.platform.db.DatabaseAvailability;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.platform.db.Pools;
import dev.silo.tenant.Placements;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Everything a node or a command needs to act on the catalog and the tenants, without the HTTP server:
 * the master key, the database (the embedded server, started here or attached to the one a running node
 * manages, or an external catalog), the migrated catalog, and the services. The server and the CLI share it,
 * so a command does exactly what the API does.
 */
public final class SiloCore implements AutoCloseable {
    public static final String CATALOG_DATABASE = "silo_catalog";
    /** Connections the embedded server allows; the tenant connection budget stays well below it. */
    static final int EMBEDDED_MAX_CONNECTIONS = 200;
    private static final Logger log = LoggerFactory.getLogger(SiloCore.class);

    public enum Mode {
        /** {@code silo serve}: owns the data directory; fails if another node holds it. */
        SERVER,
        /** A command: uses the running node's PostgreSQL if there is one, else starts it for the command. */
        COMMAND
    }

    private final SiloConfig config;
    private final Clock clock;
    private final Deque<AutoCloseable> resources;
    private final Envelope envelope;
    private final Optional<EmbeddedPostgresServer> embedded;
    private final DatabaseUrl catalogUrl;
    private final HikariDataSource catalog;
    private final AuditAnchors auditAnchors;
    private final PlatformAudit audit;
    private final OperatorService operators;
    private final Placements placements;
    private final TenantDatabases tenantDatabases;
    private final TenantService tenants;
    private final CatalogEvents events;
    private final PasswordHasher hasher;
    private final HashingGate hashingGate;
    private final BulkWork bulkWork;
    private final PasswordPolicy passwordPolicy;
    private final TenantAudit tenantAudit;
    private final UserService users;
    private final CatalogMigrations.Result catalogMigration;

    private SiloCore(SiloConfig config, Clock clock, Deque<AutoCloseable> resources, Envelope envelope,
                     Optional<EmbeddedPostgresServer> embedded, DatabaseUrl catalogUrl, HikariDataSource catalog,
                     HikariDataSource provisioningLocks, CatalogMigrations.Result catalogMigration) {
        this.config = config;
        this.catalogMigration = catalogMigration;
        this.clock = clock;
        this.resources = resources;
        this.envelope = envelope;
        this.embedded = embedded;
        this.catalogUrl = catalogUrl;
        this.catalog = catalog;
        this.auditAnchors = new AuditAnchors(Optional.of(config.dataDir()), new AuditKeys(envelope));
        this.audit = new PlatformAudit(clock, auditAnchors.keys(), auditAnchors);
        this.events = new CatalogEvents(catalogUrl);
        resources.push(events);
        this.operators = new OperatorService(catalog, audit, clock);
        this.placements = new Placements(catalog, envelope, embedded, embedded.isPresent() ? Optional.empty() : Optional.of(catalogUrl),
                audit, clock);
        SiloConfig.Tuning tuning = config.tuning();
        this.tenantDatabases = new TenantDatabases(new TenantDatabases.Settings(tuning.tenantPoolSize(),
                Duration.ofSeconds(tuning.tenantPoolIdleSeconds()), tuning.tenantConnections(),
                Duration.ofMillis(tuning.tenantConnectionWaitMillis())), placements::tenantUrl, availability(embedded));
        resources.push(tenantDatabases);
        this.tenants = new TenantService(catalog, placements, tenantDatabases, envelope, audit, clock,
                new TenantService.Settings(Duration.ofDays(tuning.retentionDays()), Duration.ofDays(tuning.secretRotationDays()),
                        Duration.ofMinutes(tuning.accessTokenMinutes())), events, provisioningLocks);
        this.hasher = new PasswordHasher(tuning.bcryptCost());
        this.passwordPolicy = new PasswordPolicy(tuning.passwordMinLength());
        this.tenantAudit = new TenantAudit(clock, auditAnchors.keys(), auditAnchors);
        this.hashingGate = new HashingGate(tuning.hashingThreads(), tuning.hashingQueue(), HashingGate.DEFAULT_RETRY_AFTER);
        resources.push(hashingGate);
        this.bulkWork = new BulkWork();
        resources.push(bulkWork);
        this.users = new UserService(tenantDatabases, catalog, hasher, hashingGate, passwordPolicy, tenantAudit, audit, clock,
                Duration.ofHours(1), events);
    }

    public static SiloCore open(SiloConfig config, Clock clock, Mode mode) {
        requireNonNull(config, "config is null");
        requireNonNull(clock, "clock is null");
        Deque<AutoCloseable> resources = new ArrayDeque<>();
        try {
            Optional<EmbeddedPostgresServer> embedded = Optional.empty();
            DatabaseUrl catalogUrl;
            Envelope envelope;
            if (config.embedded()) {
                prepareDataDir(config.dataDir(), mode);
                Optional<DataDirLock> lock = mode == Mode.SERVER
                        ? Optional.of(DataDirLock.acquire(config.dataDir()))
                        : DataDirLock.tryAcquire(config.dataDir());
                lock.ifPresent(resources::push);
                envelope = MasterKeys.load(config);
                EmbeddedPostgresServer server;
                try {
                    server = lock.isPresent()
                            ? EmbeddedPostgresServer.start(config.dataDir(), envelope, EMBEDDED_MAX_CONNECTIONS,
                                    config.tuning().walKeepMegabytes())
                            : EmbeddedPostgresServer.attach(config.dataDir(), envelope);
                } catch (Envelope.WrongKeyException e) {
                    throw new StartupException("the master key does not open this data directory (" + config.dataDir()
                            + "): set SILO_MASTER_KEY to the key it was created with");
                }
                resources.push(server);
                server.ensureDatabase(CATALOG_DATABASE);
                embedded = Optional.of(server);
                catalogUrl = server.adminUrl(CATALOG_DATABASE);
            } else {
                envelope = MasterKeys.load(config);
                catalogUrl = config.databaseUrl().orElseThrow();
            }

            HikariDataSource catalog = Pools.create("catalog", catalogUrl, 8, mode == Mode.SERVER ? 1 : 0, Duration.ofSeconds(5),
                    availability(embedded));
            resources.push(catalog);
            CatalogMigrations.Result migration = prepareCatalog(catalog, catalogUrl, config);
            // Each provisioning in progress holds one of these for its lock; 16 at once per node is plenty.
            HikariDataSource provisioningLocks = Pools.create("provisioning-locks", catalogUrl, 16, 0, Duration.ofSeconds(5));
            resources.push(provisioningLocks);
            SiloCore core = new SiloCore(config, clock, resources, envelope, embedded, catalogUrl, catalog, provisioningLocks,
                    migration);
            core.placements.ensureEmbedded();
            return core;
        } catch (RuntimeException e) {
            closeAll(resources);
            throw e;
        }
    }

    /**
     * {@code silo migrate}: brings the catalog up to this build's migrations, whatever {@code SILO_MIGRATE_AT_START}
     * says; the step a deployment runs once per release (Heroku's release phase). An external catalog is migrated
     * over a connection of its own, with nothing else started; the embedded one through its server (the running
     * node's, or started for the command), whose catalog is migrated as it opens.
     */
    public static CatalogMigrations.Result migrateCatalog(SiloConfig config) {
        requireNonNull(config, "config is null");
        if (config.embedded()) {
            try (SiloCore core = open(config, Clock.systemUTC(), Mode.COMMAND)) {
                return core.catalogMigration;
            }
        }
        DatabaseUrl url = config.databaseUrl().orElseThrow();
        // Two: Flyway holds one connection for its lock and migrates over another.
        try (HikariDataSource catalog = Pools.create("migrate", url, 2, 0, Duration.ofSeconds(10))) {
            return CatalogMigrations.migrate(catalog);
        } catch (RuntimeException e) {
            throw new StartupException("cannot migrate the catalog database at " + url + ": " + rootMessage(e));
        }
    }

    /**
     * Migrates the catalog, or, with an external catalog and {@code SILO_MIGRATE_AT_START=off}, waits for it to
     * be migrated by {@code silo migrate} (see {@link dev.silo.platform.config.CatalogStart}).
     */
    private static CatalogMigrations.Result prepareCatalog(HikariDataSource catalog, DatabaseUrl catalogUrl, SiloConfig config) {
        dev.silo.platform.config.CatalogStart start = config.tuning().catalogStart();
        if (config.embedded() || start.migrateAtStart()) {
            try {
                return CatalogMigrations.migrate(catalog);
            } catch (RuntimeException e) {
                throw new StartupException("cannot migrate the catalog database at " + catalogUrl + ": " + rootMessage(e));
            }
        }
        try {
            return CatalogMigrations.awaitCurrent(catalog, start.maxWait(), version -> log.warn(
                    "The catalog is at schema version {} and this build needs {}; waiting up to {} s for `silo migrate` "
                            + "(SILO_MIGRATE_AT_START=off)", version, CatalogMigrations.LATEST_VERSION, start.maxWait().toSeconds()));
        } catch (CatalogMigrations.CatalogTooOld e) {
            throw new StartupException(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StartupException("interrupted while waiting for the catalog to be migrated");
        } catch (RuntimeException e) {
            throw new StartupException("cannot read the schema version of the catalog database at " + catalogUrl + ": "
                    + rootMessage(e));
        }
    }

    /** Pools to the embedded server fail at once while its supervisor knows it is down. */
    private static DatabaseAvailability availability(Optional<EmbeddedPostgresServer> embedded) {
        return embedded.map(EmbeddedPostgresServer::availability).orElse(DatabaseAvailability.unsupervised());
    }

    /**
     * Whether {@code dataDir} holds a Silo installation: its PostgreSQL cluster exists ({@code initdb} has run).
     * Every installation has one, whatever else (a generated master key or not) it holds.
     */
    public static boolean isInitialised(Path dataDir) {
        return Files.isRegularFile(dataDir.resolve("postgres").resolve("data").resolve("PG_VERSION"));
    }

    /**
     * Only a server ({@code silo serve}, {@code silo init}) creates an installation. A command on a directory
     * that holds none (a typo in {@code --data-dir}, the wrong working directory) stops instead of generating a
     * master key and running {@code initdb} there.
     */
    private static void prepareDataDir(Path dataDir, Mode mode) {
        if (mode == Mode.COMMAND) {
            if (!isInitialised(dataDir)) {
                throw new StartupException("no Silo data directory at " + dataDir + " (start one with `silo serve`)");
            }
            return;
        }
        try {
            // Owner only: the data directory holds the master key, the database and the binaries Silo runs.
            Files.createDirectories(dataDir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new StartupException("cannot create the data directory " + dataDir + ": " + e);
        }
    }

    static String rootMessage(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return cause.getMessage();
    }

    public SiloConfig config() {
        return config;
    }

    public Clock clock() {
        return clock;
    }

    public Envelope envelope() {
        return envelope;
    }

    public Optional<EmbeddedPostgresServer> embedded() {
        return embedded;
    }

    public DatabaseUrl catalogUrl() {
        return catalogUrl;
    }

    public HikariDataSource catalog() {
        return catalog;
    }

    public PlatformAudit audit() {
        return audit;
    }

    /** Checkpoints of the audit chains, outside the database. */
    public AuditAnchors auditAnchors() {
        return auditAnchors;
    }

    public OperatorService operators() {
        return operators;
    }

    public Placements placements() {
        return placements;
    }

    public TenantDatabases tenantDatabases() {
        return tenantDatabases;
    }

    public TenantService tenants() {
        return tenants;
    }

    public PasswordHasher hasher() {
        return hasher;
    }

    /** Platform threads for CPU-heavy bulk work a request needs (export decryption). */
    public BulkWork bulkWork() {
        return bulkWork;
    }

    /** The bounded platform-thread pool every bcrypt call runs on. */
    public HashingGate hashingGate() {
        return hashingGate;
    }

    public PasswordPolicy passwordPolicy() {
        return passwordPolicy;
    }

    public TenantAudit tenantAudit() {
        return tenantAudit;
    }

    public UserService users() {
        return users;
    }

    /** Catalog events: a node starts listening; commands only publish. */
    public CatalogEvents events() {
        return events;
    }

    /** Adds something to stop, before everything opened so far, when the core closes. */
    void onClose(AutoCloseable resource) {
        resources.push(resource);
    }

    @Override
    public void close() {
        closeAll(resources);
    }

    static void closeAll(Deque<AutoCloseable> resources) {
        while (!resources.isEmpty()) {
            AutoCloseable resource = resources.pop();
            try {
                resource.close();
            } catch (Exception e) {
                log.warn("Error while stopping {}: {}", resource.getClass().getSimpleName(), e.toString());
            }
        }
    }
}

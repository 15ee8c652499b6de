package dev.silo.app;

import com.zaxxer.hikari.HikariDataSource;
import dev.silo.audit.Actor;
import dev.silo.audit.AuditRoutes;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.AuthRoutes;
import dev.silo.auth.IntrospectionRoutes;
import dev.silo.backup.BackupHealth;
import dev.silo.backup.BackupStore;
import dev.silo.backup.BackupStores;
import dev.silo.backup.base.BaseBackupRoutes;
import dev.silo.backup.base.BaseBackupService;
import dev.silo.backup.base.BaseBackups;
import dev.silo.backup.base.Lsn;
import dev.silo.backup.drill.BaseBackupAge;
import dev.silo.backup.drill.DrillRoutes;
import dev.silo.backup.drill.RestoreDrill;
import dev.silo.backup.drill.RestoreDrills;
import dev.silo.backup.retention.BackupRetention;
import dev.silo.backup.wal.WalReceiver;
import dev.silo.backup.wal.WalRoutes;
import dev.silo.backup.logical.CatalogSnapshots;
import dev.silo.backup.logical.LogicalBackups;
import dev.silo.backup.logical.TenantBackupRoutes;
import dev.silo.backup.logical.TenantBackups;
import dev.silo.backup.logical.TenantRestoreRoutes;
import dev.silo.backup.logical.TenantRestores;
import dev.silo.move.TenantMoveRoutes;
import dev.silo.move.TenantMoves;
import dev.silo.auth.AuthMetrics;
import dev.silo.auth.AuthService;
import dev.silo.auth.LoginThrottle;
import dev.silo.auth.LoginThrottleConfig;
import dev.silo.auth.ServiceCredentials;
import dev.silo.auth.SessionCache;
import dev.silo.auth.SessionRoutes;
import dev.silo.auth.SessionService;
import dev.silo.auth.TenantRequests;
import dev.silo.auth.TokenService;
import dev.silo.cluster.ClusterJob;
import dev.silo.cluster.ClusterMembership;
import dev.silo.cluster.ClusterNodes;
import dev.silo.cluster.ClusterRoutes;
import dev.silo.cors.CorsRoutes;
import dev.silo.cors.CorsSettings;
import dev.silo.user.UserRoutes;
import dev.silo.health.HealthRoutes;
import dev.silo.operator.OperatorAuth;
import dev.silo.operator.OperatorService;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.platform.db.Sql;
import dev.silo.platform.errors.ErrorReports;
import dev.silo.metrics.MetricsRoutes;
import dev.silo.metrics.NodeMetrics;
import dev.silo.platform.http.HttpMetrics;
import dev.silo.platform.http.HttpServer;
import dev.silo.platform.metrics.Metrics;
import dev.silo.platform.metrics.MetricsListener;
import dev.silo.platform.http.Routes;
import dev.silo.platform.log.drain.LogDrains;
import dev.silo.platform.ratelimit.RateLimiter;
import dev.silo.platform.ratelimit.SharedRedis;
import dev.silo.records.RecordRoutes;
import dev.silo.records.RecordService;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDirectory;
import dev.silo.tenant.TenantRoutes;
import dev.silo.tenant.TenantService;
import dev.silo.tenant.TenantSpares;
import dev.silo.tenant.TenantStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import static java.util.Objects.requireNonNull;

/**
 * A running Silo node, wired by hand: the {@link SiloCore} (database, catalog, services), catalog events
 * between nodes, the background jobs and the HTTP server. {@link #close()} stops them in reverse order.
 */
public final class Silo implements AutoCloseable {
    public static final String CATALOG_DATABASE = SiloCore.CATALOG_DATABASE;
    public static final String BOOTSTRAP_KEY_FILE = "bootstrap-operator.key";
    private static final Logger log = LoggerFactory.getLogger(Silo.class);

    private final SiloCore core;
    private final HttpServer http;
    private final TenantDirectory directory;
    private final UUID installationId;
    private final AtomicBoolean draining;
    private final Optional<OperatorService.CreatedOperator> bootstrapOperator;
    private final AuditCheckpointJob auditCheckpoints;
    private final Optional<WalReceiver> walReceiver;
    private final Optional<BaseBackupService> baseBackups;
    private final Optional<RestoreDrills> drills;
    private final CountDownLatch closed = new CountDownLatch(1);
    private LogicalBackups logicalBackups;
    private Optional<TenantSpares> spares = Optional.empty();
    private LogDrains logDrains;
    private Optional<ErrorReports> errorReports = Optional.empty();
    private Metrics metrics;
    private Optional<MetricsListener> metricsListener = Optional.empty();
    private ClusterMembership cluster;
    private dev.silo.mail.Mail mail;

    private Silo(SiloCore core, HttpServer http, TenantDirectory directory, UUID installationId, AtomicBoolean draining,
                 Optional<OperatorService.CreatedOperator> bootstrapOperator, AuditCheckpointJob auditCheckpoints,
                 Optional<WalReceiver> walReceiver, Optional<BaseBackupService> baseBackups, Optional<RestoreDrills> drills) {
        this.core = core;
        this.drills = drills;
        this.baseBackups = baseBackups;
        this.walReceiver = walReceiver;
        this.auditCheckpoints = auditCheckpoints;
        this.http = http;
        this.directory = directory;
        this.installationId = installationId;
        this.draining = draining;
        this.bootstrapOperator = bootstrapOperator;
    }

    public static Silo start(SiloConfig config) {
        return start(config, Clock.systemUTC(), routes -> {});
    }

    /**
     * Starts a node. {@code extraRoutes} lets tests add routes (a handler that throws, for example); production
     * passes nothing.
     */
    public static Silo start(SiloConfig config, Clock clock, Consumer<Routes> extraRoutes) {
        requireNonNull(config, "config is null");
        long started = System.nanoTime();
        // A taken port fails in milliseconds, before PostgreSQL starts; the check after binding covers a race.
        Optional<String> cannotListen = cannotListen(config.host(), config.port());
        if (cannotListen.isPresent()) {
            throw new StartupException(cannotListen.get());
        }
        HttpsSetup.check(config.tuning());
        // The 150 KB of YAML is parsed beside the start of PostgreSQL and the catalog (where this thread mostly waits
        // for them) instead of on this thread just before the listener opens.
        java.util.concurrent.CompletableFuture<dev.silo.openapi.OpenApiDocument> openApi = java.util.concurrent.CompletableFuture
                .supplyAsync(dev.silo.openapi.OpenApiDocument::load, task -> Thread.ofPlatform().daemon().name("silo-openapi").start(task));
        BuildInfo build = BuildInfo.load();
        // First, so the drains get the startup lines too; closed last, after "Silo stopped".
        LogDrains logDrains = LogDrains.start(config.logDrains());
        SiloCore core;
        try {
            core = SiloCore.open(config, clock, SiloCore.Mode.SERVER);
        } catch (RuntimeException e) {
            logDrains.close();
            throw e;
        }
        try {
            // First registered, so closed last: what fails while the node stops is still reported.
            Optional<ErrorReports> errorReports = ErrorReports.install(config.errorReports(),
                    build.commit().equals("unknown") ? build.version() : build.commit());
            errorReports.ifPresent(core::onClose);
            UUID installationId = ensureInstallation(core.catalog());
            recordNodeStart(core.catalog(), build);
            Optional<OperatorService.CreatedOperator> bootstrap = bootstrapOperator(core);

            repairInterruptedProvisioning(core, Duration.ZERO);

            TenantDirectory directory = new TenantDirectory(core.tenants());
            CatalogEvents events = core.events();
            events.subscribe(directory::onEvent);
            events.subscribe(payload -> {
                if (payload.startsWith("tenant:")) {
                    core.tenantDatabases().evict(UUID.fromString(payload.split(":", 3)[1]));
                }
            });
            Optional<TenantSpares> spares = core.embedded().map(server -> spares(core, clock));
            spares.ifPresent(pool -> events.subscribe(payload -> {
                if (payload.startsWith("tenant:")) {
                    pool.requestRefill(); // a create on any node, or a command, may have taken a spare
                }
            }));
            events.start();

            ScheduledExecutorService jobs = Executors.newSingleThreadScheduledExecutor(
                    Thread.ofPlatform().daemon().name("silo-jobs").factory());
            // Cluster-wide jobs run where their lease is held (dev.silo.cluster); node-local ones are listed in nodeJobs.
            java.util.concurrent.atomic.AtomicReference<java.util.List<String>> nodeJobs =
                    new java.util.concurrent.atomic.AtomicReference<>(java.util.List.of());
            dev.silo.platform.jobs.Jobs jobRecords = new dev.silo.platform.jobs.Jobs(core.catalog());
            core.onClose(jobRecords);
            TenantMoves moves = tenantMoves(core, jobRecords);
            ClusterMembership cluster = new ClusterMembership(core.catalogUrl(), nodeName(),
                    build.version() + "+" + build.commitLabel(), clock.instant(), nodeJobs::get)
                    .register(ClusterJob.TENANT_LIFECYCLE, () -> {
                        runJobs(core);
                        maintainMoves(moves);
                    });
            core.onClose(cluster); // after the scheduler stops (closed in reverse order): releases the leases at once
            jobs.scheduleWithFixedDelay(() -> cluster.runIfHeld(ClusterJob.TENANT_LIFECYCLE), 30, 60, TimeUnit.SECONDS);
            // Closed before PostgreSQL stops: a round still running (a catalog snapshot, a drill check) is waited for,
            // so its connection is not cut under it (a broken-connection warning with a stack trace at every stop).
            core.onClose(() -> shutdownAndWait(jobs, "the node's job scheduler"));
            AuditCheckpointJob auditCheckpoints = AuditCheckpointJob.start(core);
            core.onClose(auditCheckpoints);
            Optional<WalReceiver> walReceiver = startWalReceiver(core);
            Optional<BaseBackupService> baseBackups = walReceiver.map(receiver -> startBaseBackups(core, receiver));
            baseBackups.ifPresent(service -> jobs.scheduleWithFixedDelay(() -> runRetention(core, service.store()), 5, 60,
                    TimeUnit.MINUTES));
            Optional<RestoreDrills> drills = baseBackups.map(service -> startDrills(core, service));
            LogicalBackups logicalBackups = startLogicalBackups(core, clock);
            nodeJobs.set(nodeJobs(config, walReceiver, baseBackups, drills, spares));
            cluster.register(ClusterJob.LOGICAL_BACKUPS, logicalBackups::runRound).start();
            jobs.scheduleWithFixedDelay(() -> cluster.runIfHeld(ClusterJob.LOGICAL_BACKUPS), 5, 60, TimeUnit.SECONDS);

            SiloConfig.Tuning tuning = config.tuning();
            // Closed after the HTTP server (registered before it): a last scrape in flight still finds the registry.
            Metrics metrics = new Metrics(tuning.metrics());
            core.onClose(metrics);
            AuthMetrics authMetrics = new AuthMetrics(metrics.registry(), metrics.tenantLabels());
            SessionCache sessions = new SessionCache();
            events.subscribe(sessions::onEvent);
            java.util.concurrent.atomic.AtomicInteger boundPort = new java.util.concurrent.atomic.AtomicInteger(config.port());
            Optional<SharedRedis> redis = tuning.rateLimits().redisUrl().map(SharedRedis::open);
            redis.ifPresent(shared -> core.onClose(shared::close));
            RateLimitFilter rateLimits = new RateLimitFilter(tuning.rateLimits(), new RateLimiter(redis), directory,
                    new dev.silo.cors.CorsFilter(directory)::addToRefusal, metrics.registry());
            LoginThrottleConfig defaults = LoginThrottleConfig.defaults();
            LoginThrottle throttle = new LoginThrottle(new LoginThrottleConfig(tuning.loginMaxFailures(),
                    Math.max(defaults.ipFailures(), tuning.loginMaxFailures()), Duration.ofMinutes(tuning.loginWindowMinutes()),
                    defaults.baseLockout(), defaults.maxLockout(),
                    max(defaults.forgetAfter(), Duration.ofMinutes(tuning.loginWindowMinutes())), defaults.maxKeys()), clock, redis);
            AuthService authService = new AuthService(core.tenantDatabases(), core.catalog(), events, core.users(), core.hasher(),
                    core.passwordPolicy(), core.hashingGate(), throttle, new TokenService(clock, authMetrics), sessions, core.tenantAudit(),
                    clock, new AuthService.Settings(Duration.ofMinutes(tuning.accessTokenMinutes()), Duration.ofDays(tuning.refreshTokenDays())),
                    () -> config.publicUrlOr(boundPort.get()), authMetrics);

            AtomicBoolean draining = new AtomicBoolean();
            OperatorAuth auth = new OperatorAuth(core.operators());
            TenantRequests tenantRequests = new TenantRequests(directory, authService, rateLimits::checkUserWrite);
            AuthRoutes authRoutes = new AuthRoutes(tenantRequests, authService, core.users());
            // Closed before the tenant pools (registered after them): sends in flight finish or roll back first.
            dev.silo.mail.Mail mail = dev.silo.mail.Mail.start(new dev.silo.mail.Mail.Parts(tuning.mail(), core.envelope(),
                    core.tenantDatabases(), directory, core.tenants(), core.users(), core.hasher(), core.passwordPolicy(),
                    core.hashingGate(), core.tenantAudit(), core.audit(), core.catalog(), events, clock));
            core.onClose(mail);
            authService.useAccountHooks(mail.hooks());
            dev.silo.mail.MailRoutes mailRoutes = mail.routes(tenantRequests, auth);
            dev.silo.auth.mfa.MfaService mfaService = new dev.silo.auth.mfa.MfaService(core.tenantDatabases(),
                    new dev.silo.tenant.TenantDataKeys(core.envelope()), core.hasher(), core.hashingGate(), throttle,
                    core.tenantAudit(), clock);
            dev.silo.auth.mfa.MfaLogin mfaLogin = new dev.silo.auth.mfa.MfaLogin(core.tenantDatabases(), mfaService, authService,
                    throttle, core.tenantAudit(), clock);
            authService.requireSecondFactor(mfaLogin);
            dev.silo.auth.mfa.MfaRoutes mfaRoutes = new dev.silo.auth.mfa.MfaRoutes(tenantRequests, mfaService, mfaLogin);
            SessionRoutes sessionRoutes = new SessionRoutes(tenantRequests,
                    new SessionService(core.tenantDatabases(), core.catalog(), events, core.tenantAudit(), clock));
            IntrospectionRoutes introspectionRoutes = new IntrospectionRoutes(tenantRequests, authService,
                    new ServiceCredentials(core.tenantDatabases(), core.tenantAudit(), clock, events, core.catalog()));
            dev.silo.staff.StaffAccess staffAccess = new dev.silo.staff.StaffAccess(core.catalog(), core.tenantDatabases(), core.audit(),
                    core.tenantAudit(), clock, tuning.emergencyAccess());
            dev.silo.staff.StaffGrants staffGrants = new dev.silo.staff.StaffGrants(staffAccess, core.catalog(), core.tenants());
            dev.silo.staff.StaffAccessRoutes staffRoutes = new dev.silo.staff.StaffAccessRoutes(staffAccess, staffGrants, tenantRequests,
                    directory, auth);
            jobs.scheduleWithFixedDelay(staffGrants::runExpiry, 20, 60, TimeUnit.SECONDS);
            UserRoutes userRoutes = new UserRoutes(tenantRequests, core.users(), directory, core.tenantDatabases(),
                    core.tenantAudit(), auth);
            RecordRoutes recordRoutes = new RecordRoutes(tenantRequests, new RecordService(core.tenantDatabases(),
                    core.envelope(), core.tenantAudit(), clock, core.tenants()::migrate, core.bulkWork()));
            BackupHealth backupHealth = new BackupHealth(() -> walReceiver.map(WalReceiver::status), clock);
            baseBackups.ifPresent(service -> backupHealth.add(new BaseBackupAge(
                    () -> service.newest().map(dev.silo.backup.base.BaseBackupManifest::stopTime),
                    Duration.ofHours(tuning.baseBackupHours()), clock)::check));
            drills.ifPresent(service -> backupHealth.add(service::lastDrillFailed));
            HealthRoutes health = new HealthRoutes(core.catalog(), draining::get, () -> Map.of("backups", backupHealth.degraded()));
            TenantRoutes tenantRoutes = new TenantRoutes(core.tenants(), directory, core.tenantDatabases(), auth);
            AuditRoutes auditRoutes = new AuditRoutes(core.catalog(), core.audit(), auth, request -> {
                Tenant tenant = tenantRequests.admin(request).tenant();
                return core.tenantDatabases().withConnection(tenant,
                        connection -> core.tenantAudit().verify(connection, TenantAudit.logName(tenant.id())));
            });
            java.util.Map<String, WalRoutes.Section> backupSections = new java.util.HashMap<>();
            baseBackups.ifPresent(service -> backupSections.put("base_backups", () -> BaseBackups.status(service.store())));
            drills.ifPresent(service -> backupSections.put("drill", service::status));
            WalRoutes walRoutes = new WalRoutes(auth, walReceiver, backupSections, core.embedded().isPresent(),
                    () -> catalogSnapshotStatus(logicalBackups));
            DrillRoutes drillRoutes = new DrillRoutes(auth, drills);
            BaseBackupRoutes baseBackupRoutes = new BaseBackupRoutes(auth, baseBackups);
            TenantBackupRoutes tenantBackupRoutes = new TenantBackupRoutes(tenantRequests, logicalBackups, core.tenantDatabases(),
                    core.tenantAudit());
            TenantMoveRoutes tenantMoveRoutes = new TenantMoveRoutes(auth, moves);
            core.onClose(tenantMoveRoutes);
            TenantRestoreRoutes tenantRestoreRoutes = new TenantRestoreRoutes(auth, tenantRestores(core, logicalBackups,
                    jobRecords, walReceiver.isPresent(), clock), jobRecords, core.tenants());
            core.onClose(tenantRestoreRoutes);
            MetricsRoutes metricsRoutes = new MetricsRoutes(metrics, auth);
            CorsRoutes corsRoutes = new CorsRoutes(core.tenants(), directory,
                    new CorsSettings(core.tenants(), core.tenantDatabases(), core.tenantAudit()), tenantRequests, auth);
            ClusterRoutes clusterRoutes = new ClusterRoutes(auth, new ClusterNodes(core.catalog()), cluster.nodeId());
            dev.silo.logs.LogTailRoutes logTailRoutes = new dev.silo.logs.LogTailRoutes(auth,
                    dev.silo.platform.log.tail.LogTail.global());
            dev.silo.openapi.OpenApiRoutes openApiRoutes = new dev.silo.openapi.OpenApiRoutes(joined(openApi));
            HttpServer http;
            try {
                http = HttpServer.start(
                        new HttpServer.Settings(config.host(), config.port(), Duration.ofSeconds(10), tuning.http(), tuning.trustedProxies(),
                                HttpsSetup.resolve(config)),
                        routes -> {
                            routes.filter(rateLimits);
                            health.register(routes);
                            tenantRoutes.register(routes);
                            auditRoutes.register(routes);
                            walRoutes.register(routes);
                            baseBackupRoutes.register(routes);
                            drillRoutes.register(routes);
                            authRoutes.register(routes);
                            mailRoutes.register(routes);
                            mfaRoutes.register(routes);
                            sessionRoutes.register(routes);
                            introspectionRoutes.register(routes);
                            userRoutes.register(routes);
                            recordRoutes.register(routes);
                            staffRoutes.register(routes);
                            corsRoutes.register(routes);
                            tenantBackupRoutes.register(routes);
                            tenantRestoreRoutes.register(routes);
                            tenantMoveRoutes.register(routes);
                            logTailRoutes.register(routes);
                            metricsRoutes.register(routes);
                            clusterRoutes.register(routes);
                            new dev.silo.console.ConsoleRoutes().register(routes); // static files, no service
                            openApiRoutes.register(routes);
                            extraRoutes.accept(routes);
                        }, new HttpMetrics(metrics.registry()));
            } catch (HttpServer.CannotListen e) {
                throw new StartupException(cannotListen(config.host(), config.port())
                        .orElse("cannot listen on " + config.host() + ":" + config.port() + " (see the log above)"));
            }
            boundPort.set(http.port());
            core.onClose(http);
            // After the server, so closed before it: tail streams end at once instead of holding the stop's grace period.
            core.onClose(logTailRoutes);
            NodeMetrics.bind(metrics.registry(), new NodeMetrics.Parts(core.catalog(), core.tenantDatabases(), core.hashingGate(),
                    core.bulkWork(), walReceiver, baseBackups, drills, clock, logDrains, errorReports));
            Optional<MetricsListener> metricsListener = startMetricsListener(core, metrics);
            Silo silo = new Silo(core, http, directory, installationId, draining, bootstrap, auditCheckpoints, walReceiver,
                    baseBackups, drills);
            silo.logicalBackups = logicalBackups;
            silo.spares = spares;
            silo.logDrains = logDrains;
            silo.errorReports = errorReports;
            silo.metrics = metrics;
            silo.metricsListener = metricsListener;
            silo.cluster = cluster;
            silo.mail = mail;
            spares.ifPresent(TenantSpares::start); // after the listener: making spares is background work
            // Also background work: readiness does not wait for tenant schemas; a request checks its own tenant first.
            TenantSchemas.startChecks(core);
            log.info("Silo {} ({}) ready at {} in {} ms; data directory {}; {}", build.version(), build.commitLabel(),
                    silo.baseUri(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), config.dataDir(),
                    config.embedded() ? "embedded PostgreSQL" : "external catalog " + core.catalogUrl());
            return silo;
        } catch (RuntimeException e) {
            core.close();
            logDrains.close();
            throw e;
        }
    }

    /** The value of a start step run beside the others; its own exception if it failed. */
    private static <T> T joined(java.util.concurrent.CompletableFuture<T> step) {
        try {
            return step.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException cause) {
                throw cause;
            }
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw e;
        }
    }

    /** {@code SILO_METRICS_PORT}: {@code /metrics} without authentication on 127.0.0.1 (README "Observability"). */
    private static Optional<MetricsListener> startMetricsListener(SiloCore core, Metrics metrics) {
        java.util.OptionalInt port = core.config().tuning().metrics().port();
        if (port.isEmpty()) {
            return Optional.empty();
        }
        try {
            MetricsListener listener = MetricsListener.start(port.getAsInt(), metrics);
            core.onClose(listener);
            return Optional.of(listener);
        } catch (MetricsListener.CannotListen e) {
            throw new StartupException(e.getMessage());
        }
    }

    /**
     * Embedded mode: streams WAL into the backup store (issue 12.1). Registered after the database, so it stops
     * before PostgreSQL does. The store is {@code SILO_BACKUP_URL} behind the encrypting store: it never holds
     * plaintext WAL.
     */
    private static Optional<WalReceiver> startWalReceiver(SiloCore core) {
        if (core.embedded().isEmpty()) {
            return Optional.empty();
        }
        EmbeddedPostgresServer server = core.embedded().orElseThrow();
        if (!core.config().tuning().backupStreaming()) {
            LoggerFactory.getLogger(Silo.class).warn("SILO_BACKUP_STREAMING=off: the WAL is NOT streamed into the backup store; "
                    + "this setting is for benchmarks and diagnosis only");
            return Optional.empty();
        }
        try {
            BackupStore store = BackupStores.open(core.config(), core.envelope());
            core.onClose(store);
            log.info("Backups go to {}", store.describe());
            SiloConfig.Tuning tuning = core.config().tuning();
            WalReceiver receiver = WalReceiver.start(() -> server.adminUrl("postgres"), store, Clock.systemUTC(),
                    new WalReceiver.Synchronous(tuning.backupSynchronous(), Duration.ofSeconds(tuning.backupSynchronousWaitSeconds())));
            core.onClose(receiver);
            return Optional.of(receiver);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the backup store", e);
        }
    }

    /**
     * Deletes base backups and WAL past {@code SILO_BACKUP_RETENTION_DAYS} (issue 12.4), hourly; what it deleted is
     * recorded in the platform audit as {@code backup.retention}. A failure is logged and tried again next hour.
     */
    static void runRetention(SiloCore core, BackupStore store) {
        try {
            BackupRetention.Result result = new BackupRetention(Duration.ofDays(core.config().tuning().backupRetentionDays()))
                    .run(store, core.clock().instant());
            if (result.deletedAnything()) {
                Sql.withConnection(core.catalog(), connection -> {
                    core.audit().append(connection, Actor.SYSTEM, "backup.retention", store.describe(), result.view());
                    return null;
                });
            }
        } catch (IOException | RuntimeException e) {
            log.warn("Backup retention did not run: {}; it is tried again in an hour", e.toString());
        }
    }

    /**
     * Base backups into the WAL receiver's store (issue 12.2): on demand ({@code POST /admin/backups}), every
     * {@code SILO_BASE_BACKUP_HOURS} and soon after a start that finds none in the store (0 hours: on demand only).
     * Registered after the receiver, so it stops first.
     */
    private static BaseBackupService startBaseBackups(SiloCore core, WalReceiver receiver) {
        EmbeddedPostgresServer server = core.embedded().orElseThrow();
        BaseBackupService service = new BaseBackupService(() -> server.adminUrl(CATALOG_DATABASE), core.catalog(), core.audit(),
                core.config().dataDir(), server.clusterDirectory(), receiver.store(),
                () -> Optional.ofNullable(receiver.status().storedUpTo()).map(Lsn::parse), core.clock(),
                BaseBackupService.DEFAULT_WAL_WAIT);
        core.onClose(service);
        int hours = core.config().tuning().baseBackupHours();
        if (hours > 0) {
            service.schedule(Duration.ofHours(hours), Duration.ofSeconds(10));
        }
        return service;
    }

    /**
     * Restore drills (issue 12.6) from the base backups' store: on demand ({@code POST /admin/backups/verify}) and
     * every {@code SILO_BACKUP_DRILL_DAYS} (0: on demand only), restoring into {@code <data dir>/drill}. Registered
     * after the base backups, so it stops first.
     */
    private static RestoreDrills startDrills(SiloCore core, BaseBackupService backups) {
        EmbeddedPostgresServer server = core.embedded().orElseThrow();
        RestoreDrills drills = new RestoreDrills(() -> server.adminUrl(CATALOG_DATABASE), core.catalog(), core.audit(),
                new RestoreDrill(backups.store(), core.envelope(), core.config().dataDir().resolve("drill"), server::adminUrl,
                        CATALOG_DATABASE, core.clock()), core.clock());
        core.onClose(drills);
        int days = core.config().tuning().backupDrillDays();
        if (days > 0) {
            drills.schedule(Duration.ofDays(days), () -> {
                try {
                    return BaseBackups.list(backups.store()).stream().findFirst().map(dev.silo.backup.base.BaseBackupManifest::stopTime);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, Duration.ofMinutes(1));
        }
        return drills;
    }

    /** Stops {@code executor} (interrupting its tasks) and waits up to 30 s for a running one to end. */
    static void shutdownAndWait(java.util.concurrent.ExecutorService executor, String what) {
        executor.shutdownNow();
        try {
            if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
                log.warn("Stopping with {} still running after 30 s", what);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Catalog snapshots and tenant backups (issues 12.7, 13.2) into the backup store, in both modes: the store is
     * opened here, apart from the WAL receiver's, so these work where Silo does not host PostgreSQL.
     */
    private static LogicalBackups startLogicalBackups(SiloCore core, Clock clock) {
        try {
            BackupStore store = BackupStores.open(core.config(), core.envelope());
            core.onClose(store);
            SiloConfig.Tuning tuning = core.config().tuning();
            LogicalBackups backups = new LogicalBackups(core.catalog(), core.tenants(),
                    new CatalogSnapshots(core.catalog(), store, clock, tuning.backupRetentionDays()),
                    new TenantBackups(core.catalog(), core.tenants(), core.placements(), core.envelope(), store, core.audit(),
                            core.tenantAudit(), clock, tuning.backupRetentionDays()),
                    clock, Duration.ofHours(tuning.tenantBackupHours()), tuning.backupConcurrency());
            core.onClose(backups);
            return backups;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the backup store", e);
        }
    }

    /** One-tenant restores (issue 13.1); point-in-time ones only where this node streams the embedded server's WAL. */
    public static TenantRestores tenantRestores(SiloCore core, LogicalBackups backups, dev.silo.platform.jobs.Jobs jobs,
                                                boolean physical, Clock clock) {
        return new TenantRestores(core.catalog(), core.tenants(), core.placements(), core.envelope(), backups.tenantBackups(),
                jobs, core.audit(), core.tenantAudit(), core.config().dataDir().resolve("scratch"), physical, clock);
    }

    private static java.util.Map<String, Object> catalogSnapshotStatus(LogicalBackups backups) {
        try {
            return CatalogSnapshots.status(backups.catalogSnapshots().store());
        } catch (IOException e) {
            return java.util.Map.of("error", "cannot list the backup store: " + e.getMessage());
        }
    }

    /**
     * Spare tenant databases on the embedded server ({@code SILO_TENANT_SPARES}, issue 15.7): made here, taken by
     * creates on any node. Registered before the HTTP server, so it stops after it.
     */
    private static TenantSpares spares(SiloCore core, Clock clock) {
        TenantSpares spares = new TenantSpares(core.catalog(), core.placements(), core.envelope(), core.catalog(), clock,
                core.config().tuning().tenantSpares());
        core.onClose(spares);
        core.tenants().onSpareTaken(spares::requestRefill);
        return spares;
    }

    /**
     * The jobs this node runs whatever the other nodes do (GET /admin/cluster {@code node_jobs}): those of its own
     * embedded PostgreSQL (an embedded server has one node), and the per-node audit checkpoints and schema checks.
     */
    private static java.util.List<String> nodeJobs(SiloConfig config, Optional<WalReceiver> walReceiver,
                                                   Optional<BaseBackupService> baseBackups, Optional<RestoreDrills> drills,
                                                   Optional<TenantSpares> spares) {
        java.util.List<String> names = new java.util.ArrayList<>();
        walReceiver.ifPresent(receiver -> names.add("wal-receiver"));
        baseBackups.ifPresent(service -> {
            if (config.tuning().baseBackupHours() > 0) {
                names.add("base-backups");
            }
            names.add("backup-retention");
        });
        drills.filter(service -> config.tuning().backupDrillDays() > 0).ifPresent(service -> names.add("restore-drills"));
        spares.filter(pool -> config.tuning().tenantSpares() > 0).ifPresent(pool -> names.add("tenant-spares"));
        names.add("audit-checkpoints");
        names.add("tenant-schema-checks");
        return java.util.List.copyOf(names);
    }

    /** E-mail through SMTP (issue 19.1): its worker is present when {@code SILO_SMTP_URL} is set. */
    public dev.silo.mail.Mail mail() {
        return mail;
    }

    /** This node's heartbeat and cluster-job leases. */
    public ClusterMembership cluster() {
        return cluster;
    }

    /** The Rollbar reporter, when {@code ROLLBAR_ACCESS_TOKEN} is set: its delivered, failed and dropped counts. */
    public Optional<ErrorReports> errorReports() {
        return errorReports;
    }

    /** This node's spare tenant databases: present where it runs the embedded server. */
    public Optional<TenantSpares> spares() {
        return spares;
    }

    /** The node's meters, as {@code GET /metrics} serves them. */
    public Metrics metrics() {
        return metrics;
    }

    /** The port of the unauthenticated loopback metrics listener, when {@code SILO_METRICS_PORT} is set. */
    public java.util.OptionalInt metricsPort() {
        return metricsListener.map(listener -> java.util.OptionalInt.of(listener.port())).orElse(java.util.OptionalInt.empty());
    }

    /** Catalog snapshots and tenant backups. */
    public LogicalBackups logicalBackups() {
        return logicalBackups;
    }

    /**
     * Why the HTTP listener cannot bind {@code host:port}, found by binding it (and letting go at once); empty
     * when it can. Port 0 always can.
     */
    static Optional<String> cannotListen(String host, int port) {
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress(host, port));
            return Optional.empty();
        } catch (BindException e) {
            String reason = String.valueOf(e.getMessage());
            return Optional.of(reason.contains("in use") ? "port " + port + " is in use"
                    : "cannot listen on " + host + ":" + port + ": " + reason);
        } catch (IOException | RuntimeException e) {
            return Optional.of("cannot listen on " + host + ":" + port + ": " + e.getMessage());
        }
    }

    /**
     * The background job repairs only provisionings started this long ago (one takes well under a second). The
     * lock alone tells whether a node is working on a tenant, but a node of a release before the locks, still
     * running during a rolling upgrade, provisions without one; and a failed create is reported to its caller
     * before it is repaired behind their back. A start repairs at once.
     */
    static final Duration JOB_REPAIR_AGE = Duration.ofSeconds(30);

    /**
     * Completes (or rolls back) every provisioning that no live node is working on: a provisioning holds its
     * tenant's advisory lock for as long as it runs, and a crashed node's locks end with its connections.
     */
    private static void repairInterruptedProvisioning(SiloCore core, Duration olderThan) {
        core.tenants().repair(false, olderThan, Actor.SYSTEM).forEach(result -> log.warn(
                "Repaired interrupted provisioning of tenant {}: {} ({})", result.slug(), result.outcome(), result.detail()));
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    /**
     * Background work, run by the holder of the {@link ClusterJob#TENANT_LIFECYCLE} lease, and under it by one
     * caller at a time (a session advisory lock, also taken by nodes of older releases): interrupted provisionings,
     * purges and secret rotation.
     */
    static void runJobs(SiloCore core) {
        try (Connection connection = core.catalog().getConnection()) {
            try (PreparedStatement lock = connection.prepareStatement("SELECT pg_try_advisory_lock(7215002)");
                 ResultSet rs = lock.executeQuery()) {
                if (!rs.next() || !rs.getBoolean(1)) {
                    return;
                }
            }
            try {
                repairInterruptedProvisioning(core, JOB_REPAIR_AGE);
                int purged = core.tenants().purgeDue(Actor.SYSTEM);
                int rotated = core.tenants().rotateDue(Actor.SYSTEM);
                if (purged + rotated > 0) {
                    log.info("Background jobs: {} tenant(s) purged after retention, {} secret(s) rotated", purged, rotated);
                }
            } finally {
                try (PreparedStatement unlock = connection.prepareStatement("SELECT pg_advisory_unlock(7215002)")) {
                    unlock.execute();
                }
            }
        } catch (SQLException | RuntimeException e) {
            log.warn("Background jobs failed: {}", e.toString());
        }
    }

    /** Tenant moves between placements (issue 18.2); the CLI builds its own with the same parts. */
    public static TenantMoves tenantMoves(SiloCore core, dev.silo.platform.jobs.Jobs jobs) {
        return new TenantMoves(core.catalog(), core.catalogUrl(), core.tenants(), core.placements(), jobs, core.events(), core.audit(), core.clock());
    }

    /** Interrupted moves cleaned up, source copies retired and, after the retention window, dropped. */
    static void maintainMoves(TenantMoves moves) {
        try {
            int done = moves.maintain(Actor.SYSTEM);
            if (done > 0) {
                log.info("Background jobs: {} tenant move(s) cleaned up or finished", done);
            }
        } catch (RuntimeException e) {
            log.warn("Tenant move upkeep failed: {}", e.toString());
        }
    }

    /**
     * In embedded mode, the first start with no operator creates one so that somebody can use the admin API.
     * Its key is written once to a file readable only by the owner; {@code silo serve} also prints it on a
     * terminal. It is never logged.
     */
    private static Optional<OperatorService.CreatedOperator> bootstrapOperator(SiloCore core) {
        if (!core.config().embedded() || core.operators().anyActive()) {
            return Optional.empty();
        }
        OperatorService.CreatedOperator created = core.operators().create("bootstrap", Actor.SYSTEM);
        Path file = core.config().dataDir().resolve(BOOTSTRAP_KEY_FILE);
        try {
            Files.deleteIfExists(file);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, created.key() + "\n", StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        log.warn("Created the bootstrap operator; its key is in {} (mode 0600). Create your own with "
                + "`silo operators create NAME`, then revoke it with `silo operators revoke bootstrap`.", file);
        return Optional.of(created);
    }

    /** The installation's id, made on the first start (or {@code silo init}). */
    private static UUID ensureInstallation(HikariDataSource catalog) {
        try (Connection connection = catalog.getConnection()) {
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO installation (id) VALUES (?) ON CONFLICT DO NOTHING")) {
                insert.setObject(1, UUID.randomUUID());
                insert.executeUpdate();
            }
            try (PreparedStatement select = connection.prepareStatement("SELECT id FROM installation");
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getObject(1, UUID.class);
            }
        } catch (SQLException e) {
            throw new StartupException("cannot write to the catalog database: " + e.getMessage());
        }
    }

    private static void recordNodeStart(HikariDataSource catalog, BuildInfo build) {
        try (Connection connection = catalog.getConnection();
             PreparedStatement start = connection.prepareStatement("INSERT INTO node_starts (node, version) VALUES (?, ?)")) {
            start.setString(1, nodeName());
            start.setString(2, build.version() + "+" + build.commitLabel());
            start.executeUpdate();
        } catch (SQLException e) {
            throw new StartupException("cannot write to the catalog database: " + e.getMessage());
        }
    }

    /** What {@link #init} did. */
    public record Initialised(Path dataDir, boolean created, Optional<OperatorService.CreatedOperator> bootstrapOperator) {
        public Initialised {
            requireNonNull(dataDir, "dataDir is null");
            requireNonNull(bootstrapOperator, "bootstrapOperator is null");
        }
    }

    /**
     * {@code silo init}: creates and initialises the data directory (master key, PostgreSQL cluster, catalog,
     * bootstrap operator) as the first {@code silo serve} would, then stops. A data directory that is already
     * initialised is left alone ({@code created} false). With an external catalog it only migrates the catalog.
     */
    public static Initialised init(SiloConfig config) {
        requireNonNull(config, "config is null");
        if (config.embedded() && SiloCore.isInitialised(config.dataDir())) {
            return new Initialised(config.dataDir(), false, Optional.empty());
        }
        if (!config.embedded()) {
            SiloCore.migrateCatalog(config); // whatever SILO_MIGRATE_AT_START says: init is a deployment step
        }
        try (SiloCore core = SiloCore.open(config, Clock.systemUTC(), config.embedded() ? SiloCore.Mode.SERVER : SiloCore.Mode.COMMAND)) {
            ensureInstallation(core.catalog());
            return new Initialised(config.dataDir(), config.embedded(), bootstrapOperator(core));
        }
    }

    static String nodeName() {
        String host = System.getenv().getOrDefault("DYNO", System.getenv().getOrDefault("HOSTNAME", "node"));
        return host + "/" + ProcessHandle.current().pid();
    }

    /** The routes this node answers: what {@code GET /openapi.json} must describe (OpenApiCoverageTest). */
    public java.util.List<Routes.Route> routeTable() {
        return http.routeTable();
    }

    public int port() {
        return http.port();
    }

    /** Where this node answers, as seen from this machine. */
    public URI baseUri() {
        return URI.create((http.tls() ? "https://" : "http://") + core.config().localHost() + ":" + http.port());
    }

    /** Base backups (embedded mode only). */
    public Optional<BaseBackupService> baseBackups() {
        return baseBackups;
    }

    /** Restore drills (embedded mode only). */
    public Optional<RestoreDrills> drills() {
        return drills;
    }

    /** The backup WAL receiver (embedded mode only). */
    public Optional<WalReceiver> walReceiver() {
        return walReceiver;
    }

    public SiloCore core() {
        return core;
    }

    public SiloConfig config() {
        return core.config();
    }

    public HikariDataSource catalog() {
        return core.catalog();
    }

    public DatabaseUrl catalogUrl() {
        return core.catalogUrl();
    }

    public Optional<EmbeddedPostgresServer> embedded() {
        return core.embedded();
    }

    public TenantService tenants() {
        return core.tenants();
    }

    /** The job that checkpoints the audit chains; tests run a round at once with {@code run()}. */
    public AuditCheckpointJob auditCheckpoints() {
        return auditCheckpoints;
    }

    /** The log drains of this node ({@code SILO_LOG_DRAINS}; none by default). */
    public LogDrains logDrains() {
        return logDrains;
    }

    public TenantDirectory directory() {
        return directory;
    }

    public UUID installationId() {
        return installationId;
    }

    /** The bootstrap operator created by this start, if it created one (its key is in {@link #BOOTSTRAP_KEY_FILE}). */
    public Optional<OperatorService.CreatedOperator> bootstrapOperator() {
        return bootstrapOperator;
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitClose() throws InterruptedException {
        closed.await();
    }

    /**
     * Graceful stop: readiness turns 503 at once and, for the drain period ({@code SILO_SHUTDOWN_DRAIN_SECONDS}),
     * every request is still served so a router polling readiness stops sending traffic before the listener
     * goes; then the HTTP server stops accepting and finishes in-flight requests within its grace period, then
     * jobs, pools and PostgreSQL stop.
     */
    @Override
    public void close() {
        if (!draining.compareAndSet(false, true)) {
            try {
                closed.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        boolean interrupted = drain();
        log.info("Silo stopping");
        core.close();
        log.info("Silo stopped");
        logDrains.close();
        closed.countDown();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits out the drain period; an interrupt cuts it short (and is reported, so the stop itself is not cut). */
    private boolean drain() {
        Duration drain = Duration.ofSeconds(core.config().tuning().shutdownDrainSeconds());
        if (drain.isZero()) {
            return false;
        }
        log.info("Silo stopping: readiness answers 503 shutting-down for {} s while requests are still served", drain.toSeconds());
        try {
            Thread.sleep(drain);
            return false;
        } catch (InterruptedException e) {
            return true;
        }
    }
}

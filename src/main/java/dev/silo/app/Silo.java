package dev.silo.app;

import com.zaxxer.hikari.HikariDataSource;
import dev.silo.health.HealthRoutes;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.crypto.MasterKeys;
import dev.silo.platform.db.CatalogMigrations;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.platform.db.Pools;
import dev.silo.platform.http.HttpServer;
import dev.silo.platform.http.Routes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import static java.util.Objects.requireNonNull;

/**
 * A running Silo node, wired by hand: data directory lock, master key, database (embedded or external),
 * catalog migrations, HTTP server. {@link #close()} stops them in reverse order.
 */
public final class Silo implements AutoCloseable {
    public static final String CATALOG_DATABASE = "silo_catalog";
    /** Connections the embedded server allows; the tenant pool cap stays well below it. */
    static final int EMBEDDED_MAX_CONNECTIONS = 200;
    private static final Logger log = LoggerFactory.getLogger(Silo.class);

    private final SiloConfig config;
    private final Deque<AutoCloseable> resources;
    private final Optional<EmbeddedPostgresServer> embedded;
    private final DatabaseUrl catalogUrl;
    private final HikariDataSource catalog;
    private final HttpServer http;
    private final UUID installationId;
    private final AtomicBoolean draining;
    private final CountDownLatch closed = new CountDownLatch(1);

    private Silo(SiloConfig config, Deque<AutoCloseable> resources, Optional<EmbeddedPostgresServer> embedded,
                 DatabaseUrl catalogUrl, HikariDataSource catalog, HttpServer http, UUID installationId, AtomicBoolean draining) {
        this.config = config;
        this.resources = resources;
        this.embedded = embedded;
        this.catalogUrl = catalogUrl;
        this.catalog = catalog;
        this.http = http;
        this.installationId = installationId;
        this.draining = draining;
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
        requireNonNull(clock, "clock is null");
        long started = System.nanoTime();
        BuildInfo build = BuildInfo.load();
        Deque<AutoCloseable> resources = new ArrayDeque<>();
        try {
            Optional<EmbeddedPostgresServer> embedded = Optional.empty();
            DatabaseUrl catalogUrl;
            Envelope envelope;
            if (config.embedded()) {
                resources.push(DataDirLock.acquire(config.dataDir()));
                envelope = MasterKeys.load(config);
                EmbeddedPostgresServer server;
                try {
                    server = EmbeddedPostgresServer.start(config.dataDir(), envelope, EMBEDDED_MAX_CONNECTIONS);
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

            HikariDataSource catalog = Pools.create("catalog", catalogUrl, 8, 1, Duration.ofSeconds(5));
            resources.push(catalog);
            try {
                CatalogMigrations.migrate(catalog);
            } catch (RuntimeException e) {
                throw new StartupException("cannot migrate the catalog database at " + catalogUrl + ": "
                        + rootMessage(e));
            }
            UUID installationId = recordStart(catalog, build);

            AtomicBoolean draining = new AtomicBoolean();
            HealthRoutes health = new HealthRoutes(catalog, draining::get);
            HttpServer http = HttpServer.start(
                    new HttpServer.Settings(config.host(), config.port(), Duration.ofSeconds(10)),
                    routes -> {
                        health.register(routes);
                        extraRoutes.accept(routes);
                    });
            resources.push(http);
            Silo silo = new Silo(config, resources, embedded, catalogUrl, catalog, http, installationId, draining);
            log.info("Silo {} ({}) ready at {} in {} ms; data directory {}; {}", build.version(), build.commitLabel(),
                    silo.baseUri(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), config.dataDir(),
                    config.embedded() ? "embedded PostgreSQL" : "external catalog " + catalogUrl);
            return silo;
        } catch (RuntimeException e) {
            closeAll(resources);
            throw e;
        }
    }

    private static UUID recordStart(HikariDataSource catalog, BuildInfo build) {
        try (Connection connection = catalog.getConnection()) {
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO installation (id) VALUES (?) ON CONFLICT DO NOTHING")) {
                insert.setObject(1, UUID.randomUUID());
                insert.executeUpdate();
            }
            try (PreparedStatement start = connection.prepareStatement("INSERT INTO node_starts (node, version) VALUES (?, ?)")) {
                start.setString(1, nodeName());
                start.setString(2, build.version() + "+" + build.commitLabel());
                start.executeUpdate();
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

    static String nodeName() {
        String host = System.getenv().getOrDefault("DYNO", System.getenv().getOrDefault("HOSTNAME", "node"));
        return host + "/" + ProcessHandle.current().pid();
    }

    private static String rootMessage(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return cause.getMessage();
    }

    public int port() {
        return http.port();
    }

    /** Where this node answers, as seen from this machine. */
    public URI baseUri() {
        String host = config.host().equals("0.0.0.0") || config.host().equals("::") ? "localhost" : config.host();
        return URI.create("http://" + host + ":" + http.port());
    }

    public SiloConfig config() {
        return config;
    }

    public HikariDataSource catalog() {
        return catalog;
    }

    public DatabaseUrl catalogUrl() {
        return catalogUrl;
    }

    public Optional<EmbeddedPostgresServer> embedded() {
        return embedded;
    }

    public UUID installationId() {
        return installationId;
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitClose() throws InterruptedException {
        closed.await();
    }

    /**
     * Graceful stop: readiness turns 503 so a router stops sending traffic, the HTTP server stops accepting and
     * finishes in-flight requests within its grace period, then pools close and PostgreSQL stops cleanly.
     */
    @Override
    public void close() {
        if (!draining.compareAndSet(false, true)) {
            awaitQuietly();
            return;
        }
        log.info("Silo stopping");
        closeAll(resources);
        log.info("Silo stopped");
        closed.countDown();
    }

    private void awaitQuietly() {
        try {
            closed.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeAll(Deque<AutoCloseable> resources) {
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

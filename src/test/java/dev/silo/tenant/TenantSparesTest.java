package dev.silo.tenant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.http.Json;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationVersion;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Issue 15.7: spare tenant databases. A create takes a ready spare in one catalog transaction (or provisions as usual
 * when none is ready), the pool refills in the background, an interrupted assignment or spare creation leaves no
 * orphan, and spares are never tenants. Its own node ({@code SILO_TENANT_SPARES=2}); tests that need the pool to stand
 * still hold the spares lock, as another node making spares would.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TenantSparesTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final Duration PATIENCE = Duration.ofSeconds(90);
    private static Silo silo;
    private static TenantSpares spares;
    private static TestingHttp anonymous;
    private static TestingHttp operator;

    @BeforeAll
    static void start() {
        silo = TestingSilo.startNew(TestingSilo.newDataDir("spares"), Map.of("SILO_TENANT_SPARES", "2"));
        spares = silo.spares().orElseThrow();
        anonymous = new TestingHttp(silo.baseUri());
        operator = anonymous.withBearer(TestingSilo.operatorKey(silo));
    }

    @AfterAll
    static void stop() {
        if (silo != null) {
            silo.close();
        }
    }

    private static String slug(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static void awaitReady(int count) {
        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(100)).until(() -> spares.ready() == count);
    }

    private static Set<UUID> readyIds() {
        return spares.list().stream().filter(spare -> spare.state().equals("ready")).map(TenantSpares.Spare::id)
                .collect(Collectors.toSet());
    }

    private static Connection superuser(String database) throws SQLException {
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl(database);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }

    /** Holds the spares lock: no pass runs (on any node) until it is closed; waits for a pass in progress. */
    private static AutoCloseable holdPoolStill() throws SQLException {
        Connection connection = superuser(Silo.CATALOG_DATABASE);
        try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_lock(?, ?)")) {
            lock.setInt(1, TenantSpares.LOCK_SPACE);
            lock.setInt(2, TenantSpares.LOCK_KEY);
            lock.execute();
        }
        return () -> {
            connection.close();
            spares.requestRefill();
        };
    }

    private static Tenant createOverHttp(String slug) {
        var response = operator.post("/admin/tenants", "{\"slug\":\"" + slug + "\",\"name\":\"Tenant " + slug + "\"}");
        assertThat(response.status()).as(response.body()).isEqualTo(201);
        return silo.tenants().get(slug);
    }

    /** Through another node's operator API, naming the placement (a node without the embedded server chooses among external ones). */
    private static Tenant createOverHttp(TestingHttp node, String slug) {
        var response = node.post("/admin/tenants", "{\"slug\":\"" + slug + "\",\"placement\":\"" + Placements.EMBEDDED + "\"}");
        assertThat(response.status()).as(response.body()).isEqualTo(201);
        return silo.tenants().get(slug);
    }

    /** A second node on this node's catalog: what another dyno behind the same router is. */
    private static Silo secondNode() throws java.io.IOException {
        var catalog = silo.catalogUrl();
        String url = "postgres://" + catalog.user() + ":" + catalog.password() + "@localhost:" + catalog.port() + "/"
                + catalog.database() + "?sslmode=verify-full&sslrootcert=" + catalog.parameters().get("sslrootcert");
        String masterKey = java.nio.file.Files.readString(silo.config().dataDir().resolve("master.key")).strip();
        return TestingSilo.startNew(TestingSilo.newDataDir("spares-b"), Map.of("SILO_DATABASE_URL", url,
                "SILO_MASTER_KEY", masterKey, "SILO_TENANT_SPARES", "2"));
    }

    /** The tenant serves: its first admin logs in and writes a record that reads back. */
    private static void assertWorks(Tenant tenant) {
        assertThat(anonymous.get("/t/" + tenant.slug() + "/health").status()).isEqualTo(200);
        var admin = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        var login = anonymous.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        TestingHttp user = anonymous.withBearer(login.json().get("access_token").asText());
        var collection = user.send(user.request("/t/" + tenant.slug() + "/collections/notes")
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString("")).build());
        assertThat(collection.status()).as(collection.body()).isEqualTo(201);
        var record = user.post("/t/" + tenant.slug() + "/collections/notes/records", "{\"text\":\"hello " + tenant.slug() + "\"}");
        assertThat(record.status()).as(record.body()).isEqualTo(201);
        var read = user.get("/t/" + tenant.slug() + "/collections/notes/records/" + record.json().get("id").asText());
        assertThat(read.status()).as(read.body()).isEqualTo(200);
        assertThat(read.body()).contains("hello " + tenant.slug());
    }

    private static boolean exists(String sql, String name) throws SQLException {
        try (Connection connection = superuser("postgres"); PreparedStatement select = connection.prepareStatement(sql)) {
            select.setString(1, name);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Every tenant-named database has a catalog row (a live tenant or a spare), and every such row its database. */
    private static void assertNoOrphans() throws SQLException {
        Set<String> databases = new HashSet<>();
        try (Connection connection = superuser("postgres"); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'")) {
            while (rs.next()) {
                databases.add(rs.getString(1));
            }
        }
        Set<String> rows = new HashSet<>();
        silo.tenants().list(false).forEach(tenant -> rows.add(tenant.databaseName()));
        spares.list().forEach(spare -> rows.add(spare.databaseName()));
        assertThat(databases).isEqualTo(rows);
    }

    @Test
    void aCreateTakesAReadySpareAndThePoolRefills() throws Exception {
        awaitReady(2);
        Tenant tenant;
        Set<UUID> before;
        try (AutoCloseable still = holdPoolStill()) {
            before = readyIds();
            assertThat(before).hasSize(2);
            tenant = createOverHttp(slug("spare"));
            // The tenant is one of the spares: same id, so the same database and role, nothing renamed.
            assertThat(before).contains(tenant.id());
            assertThat(tenant.status()).isEqualTo(TenantStatus.ACTIVE);
            assertThat(tenant.databaseName()).isEqualTo(Tenant.databaseNameFor(tenant.id())).isEqualTo(tenant.roleName());
            assertThat(readyIds()).doesNotContain(tenant.id()).hasSize(1);
            assertThat(silo.tenants().signingKeys(tenant.id())).hasSize(1);
            assertNoOrphans();
        }
        assertWorks(tenant);
        awaitReady(2);
        assertThat(readyIds()).doesNotContain(tenant.id());

        // Purge is unaffected: database, role and keys go.
        assertThat(operator.post("/admin/tenants/" + tenant.slug() + "/deprovision", "{}").status()).isEqualTo(200);
        var purged = operator.delete("/admin/tenants/" + tenant.slug() + "?confirm=" + tenant.slug() + "&now=true");
        assertThat(purged.status()).as(purged.body()).isEqualTo(200);
        assertThat(exists("SELECT 1 FROM pg_database WHERE datname = ?", tenant.databaseName())).isFalse();
        assertThat(exists("SELECT 1 FROM pg_roles WHERE rolname = ?", tenant.roleName())).isFalse();
    }

    @Test
    void sparesAreNeverListedAsTenants() throws Exception {
        awaitReady(2);
        Set<UUID> ids = readyIds();
        Set<String> idText = ids.stream().map(UUID::toString).collect(Collectors.toSet());

        var listed = operator.get("/admin/tenants?limit=500&include_purged=true");
        assertThat(listed.status()).as(listed.body()).isEqualTo(200);
        for (UUID id : ids) {
            assertThat(listed.body()).doesNotContain(id.toString()).doesNotContain(Tenant.databaseNameFor(id));
        }
        assertThat(silo.tenants().list(true)).extracting(Tenant::id).doesNotContainAnyElementsOf(ids);

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"tenants", "list", "--all", "--json", "--data-dir", silo.config().dataDir().toString()},
                Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream(), true,
                        StandardCharsets.UTF_8));
        assertThat(code).isZero();
        JsonNode cli = Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8));
        List<String> cliIds = new ArrayList<>();
        (cli.isArray() ? cli : cli.path("tenants")).forEach(node -> cliIds.add(node.path("id").asText()));
        assertThat(cliIds).doesNotContainAnyElementsOf(idText);
    }

    @Test
    void concurrentCreatesOnTwoNodesNeverShareASpareAndFallBackWhenThePoolIsEmpty() throws Exception {
        awaitReady(2);
        int creates = 8;
        List<Tenant> tenants = new ArrayList<>();
        Set<UUID> sparesBefore;
        try (Silo other = secondNode(); AutoCloseable still = holdPoolStill()) {
            assertThat(other.spares()).as("only a node with the embedded server makes spares").isEmpty();
            TestingHttp otherOperator = new TestingHttp(other.baseUri()).withBearer(TestingSilo.operatorKey(silo));
            sparesBefore = readyIds();
            ExecutorService threads = Executors.newFixedThreadPool(creates);
            try {
                CountDownLatch go = new CountDownLatch(1);
                List<CompletableFuture<Tenant>> results = new ArrayList<>();
                for (int i = 0; i < creates; i++) {
                    String slug = slug("burst" + i);
                    boolean here = i % 2 == 0; // half on each node
                    results.add(CompletableFuture.supplyAsync(() -> {
                        try {
                            go.await();
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                        return here ? createOverHttp(slug) : createOverHttp(otherOperator, slug);
                    }, threads));
                }
                go.countDown();
                for (CompletableFuture<Tenant> result : results) {
                    tenants.add(result.get(PATIENCE.toSeconds(), TimeUnit.SECONDS));
                }
            } finally {
                threads.shutdownNow();
            }
            // Each spare went to exactly one create; the others, finding the pool empty, provisioned as usual.
            Set<UUID> fromSpares = tenants.stream().map(Tenant::id).filter(sparesBefore::contains).collect(Collectors.toSet());
            assertThat(fromSpares).isEqualTo(sparesBefore);
            assertThat(readyIds()).isEmpty();
            assertThat(tenants).extracting(Tenant::databaseName).doesNotHaveDuplicates().hasSize(creates);
            assertThat(tenants).extracting(Tenant::status).containsOnly(TenantStatus.ACTIVE);
            assertNoOrphans();
        }
        for (Tenant tenant : tenants) {
            assertWorks(tenant);
        }
        awaitReady(2);
        assertNoOrphans();
    }

    @Test
    void anInterruptedAssignmentLeavesTheSpareInThePoolAndNoTenant() throws Exception {
        awaitReady(2);
        String slug = slug("broken");
        try (AutoCloseable still = holdPoolStill()) {
            Set<UUID> before = readyIds();
            silo.tenants().injectSpareAssignmentFailure(() -> {
                throw new IllegalStateException("injected: the node died before the commit");
            });
            try {
                assertThatThrownBy(() -> silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM))
                        .hasMessageContaining("injected");
            } finally {
                silo.tenants().injectSpareAssignmentFailure(() -> {});
            }
            assertThat(readyIds()).isEqualTo(before);
            assertThat(silo.tenants().findLive(slug)).isEmpty();
            assertThat(silo.tenants().list(true)).extracting(Tenant::id).doesNotContainAnyElementsOf(before);
            assertNoOrphans();

            // The slug is free and the spare still usable.
            Tenant tenant = silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM);
            assertThat(before).contains(tenant.id());
            assertWorks(tenant);
        }
        awaitReady(2);
    }

    @Test
    void aPassDropsWhatAnInterruptedOneLeftAndMigratesAnOlderSpare() throws Exception {
        awaitReady(2);
        UUID placement = silo.core().placements().choose(Optional.of(Placements.EMBEDDED)).id();
        MigrationVersion shipped = TenantSpares.shippedSchemaVersion().orElseThrow();
        assertThat(shipped.compareTo(MigrationVersion.fromVersion("1"))).isPositive();
        UUID crashed = UUID.randomUUID();
        UUID old = UUID.randomUUID();
        try (AutoCloseable still = holdPoolStill()) {
            // A pass that died after creating the role and database of a spare, before it was ready.
            handMade(crashed, placement, "creating", null, Instant.now());
            // A spare made by an older build: its schema stops at V1. Made first, so it is kept over the newer ones.
            handMade(old, placement, "ready", "1", Instant.parse("2001-01-01T00:00:00Z"));
            assertThat(exists("SELECT 1 FROM pg_database WHERE datname = ?", Tenant.databaseNameFor(crashed))).isTrue();
            assertThat(spares.ready()).as("an old spare is not taken").isEqualTo(2);
        }
        await().atMost(PATIENCE).until(() -> spares.list().stream().noneMatch(spare -> spare.id().equals(crashed))
                && spares.list().stream().anyMatch(spare -> spare.id().equals(old) && shipped.getVersion().equals(spare.schemaVersion()))
                && spares.list().size() == 2);
        assertThat(exists("SELECT 1 FROM pg_database WHERE datname = ?", Tenant.databaseNameFor(crashed))).isFalse();
        assertThat(exists("SELECT 1 FROM pg_roles WHERE rolname = ?", Tenant.databaseNameFor(crashed))).isFalse();
        try (Connection connection = superuser(Tenant.databaseNameFor(old)); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT version FROM flyway_schema_history WHERE success ORDER BY installed_rank DESC LIMIT 1")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo(shipped.getVersion());
        }
        assertThat(spares.ready()).isEqualTo(2);
        assertNoOrphans();

        // The migrated spare becomes a tenant like any other.
        try (AutoCloseable still = holdPoolStill()) {
            Tenant tenant = createOverHttp(slug("old"));
            assertThat(tenant.id()).isEqualTo(old);
            assertWorks(tenant);
        }
        awaitReady(2);
    }

    /** Last: it restarts the node, with no spares kept. */
    @Test
    @Order(Integer.MAX_VALUE)
    void aRestartDropsASpareWhoseMakingWasInterruptedAndZeroKeepsNone() throws Exception {
        awaitReady(2);
        Tenant tenant = silo.tenants().create(slug("kept"), null, Optional.empty(), Actor.SYSTEM);
        UUID placement = silo.core().placements().choose(Optional.of(Placements.EMBEDDED)).id();
        UUID crashed = UUID.randomUUID();
        try (AutoCloseable still = holdPoolStill()) {
            handMade(crashed, placement, "creating", null, Instant.now());
        }
        java.nio.file.Path dataDir = silo.config().dataDir();
        silo.close();
        silo = TestingSilo.startNew(dataDir, Map.of("SILO_TENANT_SPARES", "0"));
        spares = silo.spares().orElseThrow();
        anonymous = new TestingHttp(silo.baseUri());
        operator = anonymous.withBearer(TestingSilo.operatorKey(silo));

        await().atMost(PATIENCE).until(() -> spares.list().isEmpty());
        assertThat(exists("SELECT 1 FROM pg_database WHERE datname = ?", Tenant.databaseNameFor(crashed))).isFalse();
        assertThat(exists("SELECT 1 FROM pg_roles WHERE rolname = ?", Tenant.databaseNameFor(crashed))).isFalse();
        assertNoOrphans();
        assertThat(anonymous.get("/t/" + tenant.slug() + "/health").status()).isEqualTo(200);
        // With no spare, a create provisions as usual.
        Tenant provisioned = createOverHttp(slug("usual"));
        assertThat(provisioned.status()).isEqualTo(TenantStatus.ACTIVE);
        assertThat(spares.list()).isEmpty();
        assertNoOrphans();
    }

    /** A spare row and, as a pass makes them, its role and database; migrated up to {@code schema} (none: not at all). */
    private static void handMade(UUID id, UUID placement, String state, String schema, Instant createdAt) throws SQLException {
        String name = Tenant.databaseNameFor(id);
        String password = TenantService.randomPassword();
        try (Connection catalog = superuser(Silo.CATALOG_DATABASE); PreparedStatement insert = catalog.prepareStatement("""
                INSERT INTO tenant_spares (id, placement_id, state, database_name, role_name, credentials_wrapped,
                                           schema_version, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)) {
            insert.setObject(1, id);
            insert.setObject(2, placement);
            insert.setString(3, state);
            insert.setString(4, name);
            insert.setString(5, name);
            insert.setBytes(6, silo.core().envelope().wrapString(password, "tenant/" + id + "/db-credentials"));
            insert.setString(7, schema);
            insert.setTimestamp(8, Timestamp.from(createdAt));
            insert.setTimestamp(9, Timestamp.from(createdAt));
            insert.executeUpdate();
        }
        try (Connection admin = superuser("postgres")) {
            TenantService.createRole(admin, name, password);
            TenantService.createDatabase(admin, name, name);
            TenantService.revokePublic(admin, name);
        }
        if (schema != null) {
            DatabaseUrl url = silo.embedded().orElseThrow().adminUrl(name).withCredentials(name, password);
            try (var dataSource = dev.silo.platform.db.Pools.create("old-spare", url, 2, 0, Duration.ofSeconds(10))) {
                Flyway.configure().dataSource(dataSource).locations("classpath:db/tenant")
                        .target(MigrationVersion.fromVersion(schema)).load().migrate();
            }
        }
    }

    @Test
    void thePoolSizeIsValidatedAtStart() {
        assertThat(SiloConfig.Tuning.from(Map.of()).tenantSpares()).isEqualTo(2);
        assertThat(SiloConfig.Tuning.from(Map.of("SILO_TENANT_SPARES", "0")).tenantSpares()).isZero();
        for (String bad : List.of("-1", "51", "two")) {
            assertThatThrownBy(() -> SiloConfig.Tuning.from(Map.of("SILO_TENANT_SPARES", bad)))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("SILO_TENANT_SPARES");
        }
    }
}

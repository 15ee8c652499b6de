package dev.silo.app;

import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.db.CatalogMigrations;
import dev.silo.platform.db.Pools;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Heroku's release phase ({@code release: ... silo migrate} in the Procfile): the catalog is migrated once per
 * release by the command, and nodes that do not migrate ({@code SILO_MIGRATE_AT_START=off}, the default on a
 * dyno) start on it, wait for a migration still running, and refuse a catalog older than the build.
 */
class ReleasePhaseTest {
    /**
     * The catalog version before the newest migration: the second-highest {@code V*.sql} (versions may have gaps
     * while parallel work lands, so not always {@code LATEST_VERSION - 1}).
     */
    private static final int PREVIOUS_VERSION = previousVersion();

    private static int previousVersion() {
        java.util.regex.Pattern name = java.util.regex.Pattern.compile("V(\\d+)__.*\\.sql");
        try (var files = java.nio.file.Files.list(java.nio.file.Path.of("src/main/resources/db/catalog"))) {
            return files.map(file -> name.matcher(file.getFileName().toString())).filter(java.util.regex.Matcher::matches)
                    .map(matcher -> Integer.parseInt(matcher.group(1))).filter(version -> version < CatalogMigrations.LATEST_VERSION)
                    .max(Integer::compare).orElseThrow();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static final AtomicInteger CATALOGS = new AtomicInteger();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @Test
    void theReleaseCommandMigratesAFreshCatalogOnceAndANodeThatDoesNotMigrateIsReadyOnIt() throws Exception {
        DatabaseUrl catalog = freshCatalog();
        Map<String, String> env = externalEnv(catalog);

        Run first = migrate(env, "migrate");
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("catalog schema 0 -> " + CatalogMigrations.LATEST_VERSION);
        assertThat(version(catalog)).isEqualTo(CatalogMigrations.LATEST_VERSION);
        int rows = historyRows(catalog);

        Run again = migrate(env, "migrate", "--json");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("\"applied\" : 0").contains("\"to\" : " + CatalogMigrations.LATEST_VERSION);
        assertThat(historyRows(catalog)).as("a second run applies nothing").isEqualTo(rows);

        Map<String, String> node = new HashMap<>(env);
        node.put("SILO_MIGRATE_AT_START", "off");
        node.put("SILO_CATALOG_WAIT_SECONDS", "0"); // the catalog is current: no wait is needed
        try (Silo silo = TestingSilo.startNew(TestingSilo.newDataDir("release-node"), node)) {
            HttpResponse<String> ready = HTTP.send(HttpRequest.newBuilder(silo.baseUri().resolve("/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
        }
        assertThat(historyRows(catalog)).as("the node migrated nothing").isEqualTo(rows);
    }

    @Test
    void aNodeThatDoesNotMigrateRefusesACatalogOlderThanTheBuildAndLeavesItAsItIs() throws Exception {
        DatabaseUrl catalog = freshCatalog();
        migrateTo(catalog, PREVIOUS_VERSION);
        Map<String, String> node = new HashMap<>(externalEnv(catalog));
        node.put("SILO_MIGRATE_AT_START", "off");
        node.put("SILO_CATALOG_WAIT_SECONDS", "0");

        assertThatThrownBy(() -> TestingSilo.startNew(TestingSilo.newDataDir("release-old"), node))
                .isInstanceOf(StartupException.class)
                .hasMessageContaining("schema version " + (PREVIOUS_VERSION))
                .hasMessageContaining("silo migrate");
        assertThat(version(catalog)).isEqualTo(PREVIOUS_VERSION);
    }

    @Test
    void aNodeThatDoesNotMigrateWaitsForTheReleaseMigrationThenStarts() throws Exception {
        TestingLogs.install();
        DatabaseUrl catalog = freshCatalog();
        migrateTo(catalog, PREVIOUS_VERSION);
        Map<String, String> env = externalEnv(catalog);
        Map<String, String> node = new HashMap<>(env);
        node.put("SILO_MIGRATE_AT_START", "off");
        node.put("SILO_CATALOG_WAIT_SECONDS", "300");

        CompletableFuture<Silo> starting = CompletableFuture.supplyAsync(
                () -> TestingSilo.startNew(TestingSilo.newDataDir("release-wait"), node));
        try {
            await().atMost(Duration.ofSeconds(120)).until(() -> starting.isDone() || TestingLogs.lines().stream()
                    .anyMatch(line -> line.contains("waiting up to 300 s for `silo migrate`")));
            assertThat(starting).as("the node waits while the catalog is older than the build").isNotDone();

            Run release = migrate(env, "migrate");
            assertThat(release.code()).as(release.err()).isZero();
            assertThat(release.out()).contains((PREVIOUS_VERSION) + " -> " + CatalogMigrations.LATEST_VERSION);
            try (Silo silo = starting.get(120, TimeUnit.SECONDS)) {
                assertThat(HTTP.send(HttpRequest.newBuilder(silo.baseUri().resolve("/health/ready")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
            }
        } finally {
            starting.thenAccept(Silo::close);
        }
    }

    @Test
    void aNodeThatMigratesAtStartStillMigratesAnOlderCatalog() throws Exception {
        DatabaseUrl catalog = freshCatalog();
        migrateTo(catalog, PREVIOUS_VERSION);
        Map<String, String> node = new HashMap<>(externalEnv(catalog));
        node.put("SILO_MIGRATE_AT_START", "on");
        try (Silo silo = TestingSilo.startNew(TestingSilo.newDataDir("release-start"), node)) {
            assertThat(silo.port()).isPositive();
            assertThat(version(catalog)).isEqualTo(CatalogMigrations.LATEST_VERSION);
        }
    }

    @Test
    void inTheEmbeddedModeTheCommandUsesTheRunningNodesServerAndFindsTheCatalogCurrent() {
        Silo shared = TestingSilo.shared();
        Run run = migrate(Map.of(), "migrate", "--data-dir", shared.config().dataDir().toString());
        assertThat(run.code()).as(run.err()).isZero();
        assertThat(run.out()).contains("catalog schema " + CatalogMigrations.LATEST_VERSION + ": up to date");
    }

    @Test
    void onADynoANodeDoesNotMigrateByDefaultAndElsewhereItDoes() {
        assertThat(SiloConfig.Tuning.from(Map.of("DYNO", "web.1")).catalogStart().migrateAtStart()).isFalse();
        assertThat(SiloConfig.Tuning.from(Map.of()).catalogStart().migrateAtStart()).isTrue();
        assertThat(SiloConfig.Tuning.from(Map.of("DYNO", "web.1", "SILO_MIGRATE_AT_START", "on")).catalogStart()
                .migrateAtStart()).isTrue();
        assertThatThrownBy(() -> SiloConfig.Tuning.from(Map.of("SILO_MIGRATE_AT_START", "yes")))
                .hasMessageContaining("SILO_MIGRATE_AT_START");
    }

    /** A new, empty database on the shared test server, as a Heroku Postgres add-on is before the first release. */
    private static DatabaseUrl freshCatalog() throws Exception {
        Silo shared = TestingSilo.shared();
        DatabaseUrl admin = shared.embedded().orElseThrow().adminUrl("postgres");
        String name = "silo_release_" + ProcessHandle.current().pid() + "_" + CATALOGS.incrementAndGet();
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties());
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + name);
        }
        return admin.withDatabase(name);
    }

    private static Map<String, String> externalEnv(DatabaseUrl catalog) {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Map<String, String> env = new HashMap<>();
        env.put("SILO_DATABASE_URL", "postgres://" + catalog.user() + ":" + catalog.password() + "@localhost:" + catalog.port()
                + "/" + catalog.database() + "?sslmode=verify-full&sslrootcert=" + catalog.parameters().get("sslrootcert"));
        env.put("SILO_MASTER_KEY", Base64.getEncoder().encodeToString(key));
        env.put("SILO_DATA_DIR", TestingSilo.newDataDir("release-cli").toString());
        return env;
    }

    private static void migrateTo(DatabaseUrl catalog, int version) {
        try (HikariDataSource pool = Pools.create("test-migrate", catalog, 2, 0, Duration.ofSeconds(10))) {
            Flyway.configure().dataSource(pool).locations("classpath:db/catalog").table("flyway_schema_history")
                    .target(String.valueOf(version)).load().migrate();
        }
    }

    private static int version(DatabaseUrl catalog) {
        try (HikariDataSource pool = Pools.create("test-version", catalog, 2, 0, Duration.ofSeconds(10))) {
            return CatalogMigrations.currentVersion(pool);
        }
    }

    private static int historyRows(DatabaseUrl catalog) throws Exception {
        try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.properties());
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM flyway_schema_history")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private record Run(int code, String out, String err) {}

    private static Run migrate(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}

package dev.silo.app;

import dev.silo.audit.Actor;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.problem.Unavailable;
import dev.silo.tenant.TenantService;
import dev.silo.tenant.TenantStatus;
import dev.silo.testing.TestingClock;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.flywaydb.core.api.MigrationVersion;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** A node's life on its own data directory: what may create one, a failed bind, the drain on stop, the exit status. */
class NodeLifecycleTest {
    private record Run(int code, String out, String err) {}

    private static Run silo(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aPortInUseStopsTheStartWithOneLineAndLeavesTheDataDirectoryFree() throws Exception {
        Path dir = TestingSilo.newDataDir("port-taken");
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            Run run = silo(Map.of("SILO_DATA_DIR", dir.toString(), "SILO_HOST", "127.0.0.1"), "serve", "--port", Integer.toString(port));
            assertThat(run.code()).as(run.err()).isEqualTo(1);
            assertThat(run.err().strip()).isEqualTo("silo: port " + port + " is in use");
            assertThat(run.out()).doesNotContain("ready");
        }
        // PostgreSQL was stopped (no server on the cluster) and the lock released: a node starts on the directory.
        assertThat(dir.resolve("postgres/data/postmaster.pid")).doesNotExist();
        try (Silo again = TestingSilo.startNew(dir, Map.of())) {
            assertThat(new TestingHttp(again.baseUri()).get("/health/ready").status()).isEqualTo(200);
        }
    }

    @Test
    void aPortTakenWhileTheNodeStartsStopsItAndReleasesPostgresAndTheLock() throws Exception {
        Path dir = TestingSilo.newDataDir("port-race");
        int port;
        try (ServerSocket free = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        SiloConfig config = SiloConfig.resolve(new SiloConfig.Flags(Integer.toString(port), dir.toString(), null, null),
                Map.of("SILO_HOST", "127.0.0.1", "SILO_BCRYPT_COST", "10"));
        ServerSocket[] taken = new ServerSocket[1];
        try {
            // Routes are registered just before the server binds: past the early check, with PostgreSQL running.
            assertThatThrownBy(() -> Silo.start(config, Clock.systemUTC(), routes -> {
                try {
                    taken[0] = new ServerSocket(port, 50, InetAddress.getLoopbackAddress());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            })).isInstanceOf(StartupException.class).hasMessage("port " + port + " is in use");
        } finally {
            if (taken[0] != null) {
                taken[0].close();
            }
        }
        assertThat(taken[0]).as("the port was taken during the start").isNotNull();
        assertThat(dir.resolve("postgres/data/postmaster.pid")).doesNotExist();
        try (Silo again = TestingSilo.startNew(dir, Map.of())) {
            assertThat(new TestingHttp(again.baseUri()).get("/health/ready").status()).isEqualTo(200);
        }
    }

    @Test
    void aCommandWithoutADataDirectoryCreatesNothingAndOnlyInitOrServeCreateOne() throws Exception {
        Path parent = TestingSilo.newDataDir("no-data");
        Path missing = parent.resolve("typo");
        Run list = silo(Map.of(), "tenants", "list", "--data-dir", missing.toString());
        assertThat(list.code()).isEqualTo(1);
        assertThat(list.err().strip()).isEqualTo("silo: no Silo data directory at " + missing + " (start one with `silo serve`)");
        assertThat(missing).doesNotExist();

        // A directory that exists but holds no installation is refused the same way, and left empty.
        Run operators = silo(Map.of("SILO_DATA_DIR", parent.toString()), "operators", "list");
        assertThat(operators.code()).isEqualTo(1);
        assertThat(operators.err()).contains("no Silo data directory at " + parent);
        try (var entries = Files.list(parent)) {
            assertThat(entries.toList()).isEmpty();
        }

        Run init = silo(Map.of(), "init", "--data-dir", missing.toString());
        assertThat(init.code()).as(init.err()).isZero();
        assertThat(init.out()).contains("initialised data directory " + missing).contains(Silo.BOOTSTRAP_KEY_FILE);
        assertThat(missing.resolve(Silo.BOOTSTRAP_KEY_FILE)).exists();
        assertThat(missing.resolve("postgres/data/postmaster.pid")).as("PostgreSQL stopped after init").doesNotExist();

        Run again = silo(Map.of(), "init", "--data-dir", missing.toString());
        assertThat(again.code()).isZero();
        assertThat(again.out()).contains("is initialised already");

        Run listed = silo(Map.of(), "operators", "list", "--data-dir", missing.toString());
        assertThat(listed.code()).as(listed.err()).isZero();
        assertThat(listed.out()).contains("bootstrap");
    }

    @Test
    void duringTheDrainReadinessAnswers503WhileRequestsAreStillServedThenTheListenerCloses() throws Exception {
        Silo silo = TestingSilo.startNew(TestingSilo.newDataDir("drain"), Map.of("SILO_SHUTDOWN_DRAIN_SECONDS", "3"));
        TestingHttp http = new TestingHttp(silo.baseUri());
        TestingHttp admin = http.withBearer(TestingSilo.operatorKey(silo));
        int port = silo.port();
        assertThat(http.get("/health/ready").status()).isEqualTo(200);

        CompletableFuture<Void> closing = CompletableFuture.runAsync(silo::close);
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .until(() -> http.get("/health/ready").status() == 503);
        var ready = http.get("/health/ready");
        var live = http.get("/health/live");
        var tenants = admin.get("/admin/tenants");
        assertThat(closing).as("still draining").isNotDone();

        assertThat(ready.status()).isEqualTo(503);
        assertThat(ready.json().get("type").asText()).isEqualTo("https://silo.dev/problems/shutting-down");
        assertThat(live.status()).isEqualTo(200);
        assertThat(tenants.status()).as(tenants.body()).isEqualTo(200);

        closing.get(60, TimeUnit.SECONDS);
        assertThatThrownBy(() -> new Socket(InetAddress.getLoopbackAddress(), port).close()).isInstanceOf(ConnectException.class);
    }

    @Test
    void theDrainIsFiveSecondsWhereAPlatformRoutesByReadinessAndZeroOnAWorkstation() {
        assertThat(SiloConfig.Tuning.from(Map.of()).shutdownDrainSeconds()).isZero();
        assertThat(SiloConfig.Tuning.from(Map.of("PORT", "3000")).shutdownDrainSeconds()).isEqualTo(5);
        assertThat(SiloConfig.Tuning.from(Map.of("DYNO", "web.1")).shutdownDrainSeconds()).isEqualTo(5);
        assertThat(SiloConfig.Tuning.from(Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1")).shutdownDrainSeconds()).isEqualTo(5);
        assertThat(SiloConfig.Tuning.from(Map.of("PORT", "3000", "SILO_SHUTDOWN_DRAIN_SECONDS", "0")).shutdownDrainSeconds()).isZero();
        assertThatThrownBy(() -> SiloConfig.Tuning.from(Map.of("SILO_SHUTDOWN_DRAIN_SECONDS", "61")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("SILO_SHUTDOWN_DRAIN_SECONDS");
    }

    @Test
    void sigtermStopsAServeProcessCleanlyWithExitStatusZero() throws Exception {
        Path dir = TestingSilo.newDataDir("sigterm");
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Path log = dir.resolveSibling(dir.getFileName() + ".log");
        // Output to a file: Process.destroy() closes the pipes, which would lose what the process prints as it stops.
        ProcessBuilder builder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "dev.silo.app.Main",
                "serve", "--port", "0", "--data-dir", dir.toString()).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("SILO_HOST", "127.0.0.1");
        builder.environment().put("SILO_LOG_FORMAT", "text");
        builder.environment().put("SILO_BCRYPT_COST", "10");
        builder.environment().remove("PORT");
        Process process = builder.start();
        try {
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                    .until(() -> Files.readString(log).contains("Silo is ready at ") || !process.isAlive());
            assertThat(process.isAlive()).as(Files.readString(log)).isTrue();
            process.destroy(); // SIGTERM
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as(Files.readString(log)).isTrue();
            assertThat(process.exitValue()).as(Files.readString(log)).isZero();
            assertThat(Files.readString(log)).contains("Silo stopped");
            assertThat(dir.resolve("postgres/data/postmaster.pid")).doesNotExist();
        } finally {
            process.destroyForcibly();
        }
    }

    @Test
    void anInterruptedProvisioningIsCompletedAtTheNextStartAndByTheMinuteJob() {
        Path dir = TestingSilo.newDataDir("repair");
        try (Silo first = TestingSilo.startNew(dir, Map.of())) {
            interruptedCreate(first, "at-start");
        }
        TestingClock clock = new TestingClock();
        try (Silo second = TestingSilo.startNew(dir, Map.of(), clock)) {
            // Nobody works on it any more: completed by the start, not five minutes later.
            assertThat(second.tenants().get("at-start").status()).isEqualTo(TenantStatus.ACTIVE);
            assertThat(new TestingHttp(second.baseUri()).get("/t/at-start/health").status()).isEqualTo(200);

            interruptedCreate(second, "by-job");
            Silo.runJobs(second.core());
            assertThat(second.tenants().get("by-job").status()).as("younger than the job's age").isEqualTo(TenantStatus.PROVISIONING);
            clock.advance(Silo.JOB_REPAIR_AGE.plusSeconds(1));
            Silo.runJobs(second.core());
            assertThat(second.tenants().get("by-job").status()).isEqualTo(TenantStatus.ACTIVE);
            assertThat(new TestingHttp(second.baseUri()).get("/t/by-job/health").status()).isEqualTo(200);
            emptySchema(second, "by-job");
            assertThat(second.tenants().appliedSchemaVersion(second.tenants().get("by-job"))).isEqualTo(MigrationVersion.EMPTY);
        }
        try (Silo third = TestingSilo.startNew(dir, Map.of())) {
            // The start's background checks migrate a tenant that is behind, without a request (TenantSchemaStartTest
            // covers a request arriving first).
            MigrationVersion current = third.tenants().appliedSchemaVersion(third.tenants().get("at-start"));
            assertThat(current).isNotEqualTo(MigrationVersion.EMPTY);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofMinutes(2))
                    .until(() -> third.tenants().appliedSchemaVersion(third.tenants().get("by-job")).equals(current));
        }
    }

    /** A tenant schema as an older release, before any migration, would have left it. */
    private static void emptySchema(Silo silo, String slug) {
        var tenant = silo.tenants().get(slug);
        var admin = silo.embedded().orElseThrow().adminUrl(tenant.databaseName());
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties());
             Statement statement = connection.createStatement()) {
            statement.execute("DROP SCHEMA public CASCADE");
            statement.execute("CREATE SCHEMA public AUTHORIZATION " + tenant.roleName());
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        // An older release recorded no schema version in the catalog (catalog V13 is newer than it).
        dev.silo.platform.db.Sql.withConnection(silo.core().catalog(), connection -> {
            try (var update = connection.prepareStatement("UPDATE tenants SET schema_version = NULL WHERE id = ?")) {
                update.setObject(1, tenant.id());
                return update.executeUpdate();
            }
        });
    }

    @Test
    void aProvisioningInProgressIsNotTouchedByRepair() throws Exception {
        Silo silo = TestingSilo.shared();
        String slug = "busy-" + Long.toHexString(System.nanoTime());
        CountDownLatch reached = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Thread> creator = new CompletableFuture<>();
        silo.tenants().injectFailures((step, tenant) -> {
            if (step == TenantService.Step.SCHEMA && tenant.slug().equals(slug) && Thread.currentThread() == creator.getNow(null)) {
                reached.countDown();
                try {
                    if (!release.await(60, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("never released");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
        });
        try {
            CompletableFuture<TenantStatus> created = CompletableFuture.supplyAsync(() -> {
                creator.complete(Thread.currentThread());
                return silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM).status();
            });
            assertThat(reached.await(60, TimeUnit.SECONDS)).isTrue();

            // Mid-provisioning, holding its lock: neither a repair nor the minute job touches it.
            assertThat(silo.tenants().repair(false, Duration.ZERO, Actor.SYSTEM)).noneSatisfy(r -> assertThat(r.slug()).isEqualTo(slug));
            assertThat(silo.tenants().repair(true, Duration.ZERO, Actor.SYSTEM)).noneSatisfy(r -> assertThat(r.slug()).isEqualTo(slug));
            assertThat(silo.tenants().get(slug).status()).isEqualTo(TenantStatus.PROVISIONING);

            release.countDown();
            assertThat(created.get(60, TimeUnit.SECONDS)).isEqualTo(TenantStatus.ACTIVE);
        } finally {
            release.countDown();
            silo.tenants().injectFailures(TenantService.NO_FAILURES);
        }
    }

    /** What a crash mid-provisioning leaves: the catalog row and the role, no database, nobody holding the lock. */
    private static void interruptedCreate(Silo silo, String slug) {
        silo.tenants().injectFailures((step, tenant) -> {
            if (step == TenantService.Step.DATABASE) {
                throw new IllegalStateException("simulated crash before " + step);
            }
        });
        try {
            assertThatThrownBy(() -> silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM)).isInstanceOf(Unavailable.class);
        } finally {
            silo.tenants().injectFailures(TenantService.NO_FAILURES);
        }
        assertThat(silo.tenants().get(slug).status()).isEqualTo(TenantStatus.PROVISIONING);
    }
}

package dev.silo.app;

import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Nodes on their own data directories: persistence across restarts, crash leftovers, exclusivity, shutdown. */
class RestartTest {
    @Test
    void catalogDataSurvivesAStopAndStart() throws Exception {
        Path dir = TestingSilo.newDataDir("restart");
        UUID installation;
        String marker = UUID.randomUUID().toString();
        try (Silo first = TestingSilo.startNew(dir, Map.of())) {
            installation = first.installationId();
            try (Connection connection = first.catalog().getConnection(); Statement statement = connection.createStatement()) {
                statement.execute("CREATE TABLE survival (marker text)");
                statement.execute("INSERT INTO survival VALUES ('" + marker + "')");
            }
        }
        try (Silo second = TestingSilo.startNew(dir, Map.of())) {
            assertThat(second.installationId()).isEqualTo(installation);
            try (Connection connection = second.catalog().getConnection(); Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT marker FROM survival")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo(marker);
            }
            try (Connection connection = second.catalog().getConnection(); Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT count(*) FROM node_starts")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(2);
            }
            assertThat(Files.getPosixFilePermissions(dir.resolve("master.key")).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");

            // A second Silo on the same data directory is refused while the first runs.
            assertThatThrownBy(() -> TestingSilo.startNew(dir, Map.of()))
                    .isInstanceOf(StartupException.class)
                    .hasMessageContaining("is in use by another Silo");
            assertThat(new TestingHttp(second.baseUri()).get("/health/ready").status()).isEqualTo(200);
        }

        // Another master key does not open the data directory, and says so.
        assertThatThrownBy(() -> TestingSilo.startNew(dir, Map.of("SILO_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")))
                .isInstanceOf(StartupException.class)
                .hasMessageContaining("the master key does not open this data directory");
    }

    @Test
    void anOrphanedPostgresAndAStalePidFileAreRecoveredFrom() throws Exception {
        Path dir = TestingSilo.newDataDir("orphan");
        Path cluster;
        EmbeddedPostgresServer embedded;
        try (Silo first = TestingSilo.startNew(dir, Map.of())) {
            embedded = first.embedded().orElseThrow();
            cluster = embedded.clusterDirectory();
        }
        // What a killed JVM leaves behind: its postgres still running on the cluster.
        int orphanPort;
        try (var socket = new java.net.ServerSocket(0)) {
            orphanPort = socket.getLocalPort();
        }
        Process start = new ProcessBuilder(embedded.binaries().command("pg_ctl", "start", "-w", "-D", cluster.toString(),
                "-o", "-p " + orphanPort, "-l", cluster.resolveSibling("orphan.log").toString()))
                .redirectErrorStream(true).start();
        start.getInputStream().readAllBytes();
        assertThat(start.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(start.exitValue()).isZero();
        long orphanPid = Long.parseLong(Files.readAllLines(cluster.resolve("postmaster.pid")).getFirst().strip());
        assertThat(ProcessHandle.of(orphanPid).map(ProcessHandle::isAlive)).contains(true);

        try (Silo second = TestingSilo.startNew(dir, Map.of())) {
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
                    .until(() -> !ProcessHandle.of(orphanPid).map(ProcessHandle::isAlive).orElse(false));
            assertThat(second.embedded().orElseThrow().port()).isNotEqualTo(orphanPort);
            assertThat(new TestingHttp(second.baseUri()).get("/health/ready").status()).isEqualTo(200);
        }

        // A pid file whose process is gone.
        Files.writeString(cluster.resolve("postmaster.pid"), "999999\n" + cluster + "\n");
        try (Silo third = TestingSilo.startNew(dir, Map.of())) {
            assertThat(new TestingHttp(third.baseUri()).get("/health/ready").status()).isEqualTo(200);
        }
    }

    @Test
    void shutdownFinishesInFlightRequestsAndStopsPostgres() throws Exception {
        Path dir = TestingSilo.newDataDir("shutdown");
        Silo silo = TestingSilo.startNew(dir, Map.of());
        TestingHttp http = new TestingHttp(silo.baseUri());
        int started = TestingSilo.SLOW_STARTED.get();
        CompletableFuture<TestingHttp.Response> slow = CompletableFuture.supplyAsync(() -> http.get("/test/slow?ms=1500"));
        // Close only once the request is in its handler: in flight, not merely sent.
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                .until(() -> TestingSilo.SLOW_STARTED.get() > started);
        Path pidFile = silo.embedded().orElseThrow().clusterDirectory().resolve("postmaster.pid");
        assertThat(pidFile).exists();
        silo.close();
        assertThat(slow.get(20, TimeUnit.SECONDS).status()).isEqualTo(200);
        assertThat(pidFile).doesNotExist();
    }
}

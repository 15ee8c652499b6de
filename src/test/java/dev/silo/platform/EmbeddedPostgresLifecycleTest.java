package dev.silo.platform;

import dev.silo.app.Silo;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The embedded PostgreSQL on nodes of their own: owner-only modes in the data directory and their repair
 * (issue 11.4, claim C17), and a clean stop that waits for the server however long its shutdown takes (issue 10.8).
 */
class EmbeddedPostgresLifecycleTest {
    private static final Set<PosixFilePermission> GROUP_OR_OTHERS = EnumSet.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    @Test
    void everythingInTheDataDirectoryIsOwnerOnly() throws Exception {
        Path dataDir = TestingSilo.newDataDir("modes");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            assertThat(new TestingHttp(silo.baseUri()).get("/health/ready").status()).isEqualTo(200);
            List<String> exposed = new ArrayList<>();
            List<String> directories = new ArrayList<>();
            Files.walkFileTree(dataDir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path directory, BasicFileAttributes attributes) throws IOException {
                    String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(directory, LinkOption.NOFOLLOW_LINKS));
                    if (!mode.equals("rwx------")) {
                        exposed.add(dataDir.relativize(directory) + "/ " + mode);
                    }
                    directories.add(dataDir.relativize(directory).toString());
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                    if (!attributes.isSymbolicLink()) {
                        var permissions = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
                        if (permissions.stream().anyMatch(GROUP_OR_OTHERS::contains)) {
                            exposed.add(dataDir.relativize(file) + " " + PosixFilePermissions.toString(permissions));
                        }
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
            assertThat(exposed).isEmpty();
            // What was checked: the binaries PostgreSQL runs from, its TLS material and cluster, the backup store.
            assertThat(directories).contains("postgres", "postgres/runtime", "postgres/tls", "postgres/data", "backups/store");
            assertThat(directories).anyMatch(directory -> directory.matches("postgres/runtime/PG-[0-9a-f]+/bin"));
        }
    }

    @Test
    void aRuntimeDirectoryMadeWorldWritableIsRepairedAndItsBinariesUnpackedAgain() throws Exception {
        Path dataDir = TestingSilo.newDataDir("tamper");
        Path runtime = dataDir.resolve("postgres").resolve("runtime");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            assertThat(silo.embedded()).isPresent();
        }
        // What a local attacker could do with a world-writable runtime: plant something among the binaries.
        Files.setPosixFilePermissions(runtime, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path binaries;
        try (var entries = Files.list(runtime)) {
            binaries = entries.filter(path -> path.getFileName().toString().startsWith("PG-")).findFirst().orElseThrow();
        }
        Path planted = binaries.resolve("bin").resolve("planted");
        Files.writeString(planted, "#!/bin/sh\n");

        int before = TestingLogs.lines().size();
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            assertThat(new TestingHttp(silo.baseUri()).get("/health/ready").status()).isEqualTo(200);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(runtime))).isEqualTo("rwx------");
            assertThat(planted).doesNotExist(); // the binaries were unpacked again rather than trusted
            assertThat(Files.isDirectory(binaries.resolve("bin"))).isTrue();
            List<String> logs = TestingLogs.lines().subList(before, TestingLogs.lines().size());
            assertThat(logs).anyMatch(line -> line.contains("\"level\":\"WARN\"") && line.contains(runtime.toString())
                    && line.contains("was writable by group or others"));
        }
    }

    /**
     * A replication client that stops acknowledging holds a fast shutdown until {@code wal_sender_timeout}: the stop
     * legitimately takes longer than the 5 s the embedding library waited (it then logged an ERROR with a stack trace).
     */
    @Test
    void aSlowShutdownIsWaitedForToTheEndAndLogsNoError() throws Exception {
        Silo silo = TestingSilo.startNew(TestingSilo.newDataDir("slow-stop"), Map.of());
        var embedded = silo.embedded().orElseThrow();
        ProcessHandle postmaster = embedded.postmaster().orElseThrow();
        Path hba = embedded.clusterDirectory().resolve("pg_hba.conf");
        Files.writeString(hba, "hostssl replication postgres 127.0.0.1/32 scram-sha-256\n" + Files.readString(hba));
        try (Connection admin = silo.catalog().getConnection(); Statement statement = admin.createStatement()) {
            statement.execute("ALTER SYSTEM SET wal_sender_timeout = '20s'");
            statement.execute("SELECT pg_reload_conf()");
            statement.execute("CREATE TABLE filler AS SELECT g, md5(g::text) AS text FROM generate_series(1, 50000) g");
        }
        DatabaseUrl url = embedded.adminUrl("postgres");
        Properties properties = url.properties();
        PGProperty.REPLICATION.set(properties, "true");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(properties, "9.4");
        PGProperty.PREFER_QUERY_MODE.set(properties, "simple");
        Connection replication = DriverManager.getConnection(url.jdbcUrl(), properties);
        LogSequenceNumber start;
        try (Statement statement = replication.createStatement(); ResultSet rs = statement.executeQuery("IDENTIFY_SYSTEM")) {
            rs.next();
            start = LogSequenceNumber.valueOf(rs.getString("xlogpos"));
        }
        PGReplicationStream stream = replication.unwrap(PGConnection.class).getReplicationAPI().replicationStream().physical()
                .withStartPosition(start).start();
        assertThat(stream.isClosed()).isFalse(); // and never read from again: no acknowledgement reaches the server

        int before = TestingLogs.lines().size();
        silo.close();
        List<String> logs = TestingLogs.lines().subList(before, TestingLogs.lines().size());
        assertThat(logs).noneMatch(line -> line.contains("\"level\":\"ERROR\""));
        assertThat(logs).noneMatch(line -> line.contains("stack_trace"));
        assertThat(logs).anyMatch(line -> line.contains("Embedded PostgreSQL stopped"));
        assertThat(running(postmaster)).isFalse(); // the process itself exited, not only its pid file
        assertThat(embedded.clusterDirectory().resolve("postmaster.pid")).doesNotExist();
        replication.close();
    }

    /** Alive and not a zombie (nobody may have reaped the postmaster yet; ProcessHandle counts zombies as alive). */
    private static boolean running(ProcessHandle process) throws IOException {
        if (!process.isAlive()) {
            return false;
        }
        Path stat = Path.of("/proc", Long.toString(process.pid()), "stat");
        if (!Files.exists(stat)) {
            return false;
        }
        String text = Files.readString(stat);
        return text.charAt(text.lastIndexOf(')') + 2) != 'Z';
    }
}

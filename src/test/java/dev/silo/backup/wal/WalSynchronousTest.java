package dev.silo.backup.wal;

import dev.silo.app.Silo;
import dev.silo.backup.BackupStore;
import dev.silo.backup.EncryptedBackupStore;
import dev.silo.backup.FileBackupStore;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.crypto.MasterKeys;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claim C14 (issue 12.1), {@code SILO_BACKUP_SYNCHRONOUS=on}: a commit returns only once the backup store holds its
 * WAL (RPO 0), and a store outage suspends that after {@code SILO_BACKUP_SYNCHRONOUS_WAIT_SECONDS} instead of making
 * every commit hang.
 */
class WalSynchronousTest {
    private static final Duration GUARD = Duration.ofSeconds(90);

    @Test
    void aCommittedWriteIsAlreadyInTheStoreWhenTheCommitReturns() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-sync");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of("SILO_BACKUP_SYNCHRONOUS", "on"))) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            WalReceiver receiver = silo.walReceiver().orElseThrow();
            BackupStore store = openStore(dataDir, dataDir.resolve("backups").resolve("store"));
            await().atMost(GUARD).until(() -> "on".equals(receiver.status().synchronous()));
            // pg_reload_conf() signals the server processes, which take the new setting a moment later.
            await().atMost(GUARD).until(() -> "sync".equals(syncState(postgres)));
            try (Connection connection = connect(postgres); Statement statement = connection.createStatement()) {
                statement.execute("CREATE TABLE sync_probe (id int, body text)");
                for (int round = 0; round < 5; round++) {
                    connection.setAutoCommit(false);
                    statement.execute("INSERT INTO sync_probe SELECT g, repeat('y', 100) FROM generate_series(1, 50) g");
                    long beforeCommit = queryLong(statement, "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn");
                    connection.commit();
                    connection.setAutoCommit(true);
                    // No waiting: the commit record follows beforeCommit, and the commit returned only once it was stored.
                    long stored = WalSegments.read(store).end().orElseThrow();
                    assertThat(Long.compareUnsigned(stored, beforeCommit)).as("store end after the commit record").isPositive();
                }
            }
        }
        // Stopped cleanly: commits no longer wait for a receiver that is gone.
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            assertThat(silo.walReceiver().orElseThrow().status().synchronous()).isEqualTo("off");
            try (Connection connection = connect(silo.embedded().orElseThrow()); Statement statement = connection.createStatement()) {
                assertThat(queryText(statement, "SHOW synchronous_standby_names")).isEmpty();
            }
        }
    }

    @Test
    void aStoreOutageSuspendsSynchronousModeInsteadOfHangingCommits() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-sync-outage");
        Path storeRoot = dataDir.resolve("backups").resolve("store");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of("SILO_BACKUP_SYNCHRONOUS", "on",
                "SILO_BACKUP_SYNCHRONOUS_WAIT_SECONDS", "2"))) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            WalReceiver receiver = silo.walReceiver().orElseThrow();
            BackupStore store = openStore(dataDir, storeRoot);
            await().atMost(GUARD).until(() -> "on".equals(receiver.status().synchronous()));

            int logsBefore = dev.silo.testing.TestingLogs.lines().size();
            Path aside = dataDir.resolve("backups").resolve("store-aside");
            Files.move(storeRoot, aside);
            Files.writeString(storeRoot, "not a folder");
            CompletableFuture<Void> write = CompletableFuture.runAsync(() -> {
                try (Connection connection = connect(postgres); Statement statement = connection.createStatement()) {
                    statement.execute("CREATE TABLE outage_probe AS SELECT g AS id FROM generate_series(1, 100) g");
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            // The commit waits while the receiver cannot store it, then returns once Silo suspends synchronous mode.
            write.get(GUARD.toSeconds(), TimeUnit.SECONDS);
            // The server releases the commit on the reload, a moment before the receiver's status says so.
            await().atMost(GUARD).until(() -> "suspended".equals(receiver.status().synchronous()));
            // And it stays suspended while the store is still down (it used to re-engage on the small lag alone).
            for (int i = 0; i < 3; i++) {
                try (Connection connection = connect(postgres); Statement statement = connection.createStatement()) {
                    statement.execute("INSERT INTO outage_probe VALUES (" + (1000 + i) + ")");
                }
                Thread.sleep(1500); // longer than the receiver's lag interval (1 s): a re-engagement would show
                assertThat(receiver.status().synchronous()).as("while the store is down").isEqualTo("suspended");
            }
            // The status's last error is the store's own again by now (each reconnect fails on it); the suspension
            // is in the log, once.
            assertThat(dev.silo.testing.TestingLogs.lines().subList(logsBefore, dev.silo.testing.TestingLogs.lines().size()))
                    .filteredOn(line -> line.contains("synchronous mode suspended")).hasSize(1);
            try (Connection connection = connect(postgres); Statement statement = connection.createStatement()) {
                assertThat(queryText(statement, "SHOW synchronous_standby_names")).isEmpty();
            }

            Files.delete(storeRoot);
            Files.move(aside, storeRoot);
            await().atMost(GUARD).until(() -> "on".equals(receiver.status().synchronous()));
            // pg_reload_conf() signals the server processes, which take the new setting a moment later.
            await().atMost(GUARD).until(() -> "sync".equals(syncState(postgres)));
            long flushed;
            try (Connection connection = connect(postgres); Statement statement = connection.createStatement()) {
                statement.execute("INSERT INTO outage_probe VALUES (101)");
                flushed = queryLong(statement, "SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn");
            }
            await().atMost(GUARD).until(() -> WalSegments.read(store).end()
                    .filter(end -> Long.compareUnsigned(end, flushed) >= 0).isPresent());
            assertThat(WalSegments.read(store).firstGap()).isEmpty();
        }
    }

    /** The receiver's sync state, or null while it has no replication connection (it may be reconnecting). */
    private static String syncState(EmbeddedPostgresServer postgres) throws SQLException {
        try (Connection connection = connect(postgres); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'silo_wal'")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static long queryLong(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getBigDecimal(1).longValueExact();
        }
    }

    private static String queryText(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            assertThat(rs.next()).as(sql).isTrue();
            return rs.getString(1);
        }
    }

    private static Connection connect(EmbeddedPostgresServer postgres) throws SQLException {
        DatabaseUrl url = postgres.adminUrl(Silo.CATALOG_DATABASE);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }

    private static BackupStore openStore(Path dataDir, Path root) throws IOException {
        SiloConfig config = SiloConfig.resolve(SiloConfig.Flags.none(), Map.of("SILO_DATA_DIR", dataDir.toString()));
        return EncryptedBackupStore.open(new FileBackupStore(root), MasterKeys.load(config));
    }
}

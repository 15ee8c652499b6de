package dev.silo.backup.wal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.platform.http.Json;
import dev.silo.testing.TestingHttp;
import dev.silo.backup.BackupStore;
import dev.silo.backup.EncryptedBackupStore;
import dev.silo.backup.FileBackupStore;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.crypto.MasterKeys;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claim C14 (issue 12.1): the embedded server's WAL is streamed from the permanent slot {@code silo_wal} into the
 * backup store, whole segments contiguous and byte-identical to PostgreSQL's, across a killed postmaster and a Silo
 * restart, and the slot releases WAL only once it is in the store.
 */
class WalStreamingTest {
    private static final int PAGE = 8192;
    private static final int XLOG_PAGE_MAGIC = 0xD116; // PostgreSQL 17
    private static final Duration GUARD = Duration.ofSeconds(90);

    @Test
    void theStoreCoversTheServerFlushPositionWithContiguousSegmentsIdenticalToPostgres() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-stream");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            BackupStore store = openStore(dataDir, dataDir.resolve("backups").resolve("store"));
            writeAndSwitch(postgres, "first", 3);
            long flushed = flushLsn(postgres);
            awaitStoreCovers(store, flushed);

            WalSegments.Contents contents = WalSegments.read(store);
            assertThat(contents.complete()).hasSizeGreaterThanOrEqualTo(3);
            assertThat(contents.firstGap()).isEmpty();
            for (WalSegments.Segment segment : contents.complete()) {
                assertThat(segment.size()).isEqualTo(WalSegments.SEGMENT_SIZE);
                byte[] bytes = read(store, segment.name());
                assertPageHeaders(bytes, segment);
                // The completed segment is still in pg_wal (no checkpoint has recycled it): the stream must match it
                // byte for byte.
                byte[] original = pgWalFile(postgres, segment.name().substring(WalSegments.PREFIX.length()));
                assertThat(Arrays.equals(original, bytes)).as("stored %s equals PostgreSQL's segment", segment.name()).isTrue();
            }
            WalReceiver.Status status = silo.walReceiver().orElseThrow().status();
            assertThat(status.running()).isTrue();
            assertThat(status.timeline()).isEqualTo(1);
            assertThat(status.storedUpTo()).isNotNull();
        }
    }

    @Test
    void thePartialSegmentIsStoredAsPiecesOfNewBytesIdenticalToPostgres() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-pieces");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            BackupStore store = openStore(dataDir, dataDir.resolve("backups").resolve("store"));
            writeAndSwitch(postgres, "pieces_start", 1);
            for (int round = 0; round < 3; round++) {
                write(postgres, "pieces_" + round);
                awaitStoreCovers(store, flushLsn(postgres));
            }
            WalSegments.Partial partial = WalSegments.readPartial(store).orElseThrow();
            assertThat(WalSegments.read(store).end()).contains(partial.endLsn());
            List<String> pieces = store.list(WalSegments.PREFIX).stream().map(BackupStore.StoredObject::name)
                    .filter(name -> name.contains(".partial.")).toList();
            // More than one piece, and none re-holds the segment from its start but the first.
            assertThat(pieces).hasSizeGreaterThan(1);
            assertThat(pieces.stream().filter(name -> name.contains(".partial.00000000-"))).hasSize(1);
            // The server's own file of the segment being filled starts with exactly the stored bytes.
            Path live = dataDir.resolve("postgres/data/pg_wal")
                    .resolve(WalSegments.name(partial.timeline(), partial.startLsn()).substring(WalSegments.PREFIX.length()));
            byte[] server = Files.readAllBytes(live);
            assertThat(Arrays.equals(Arrays.copyOf(server, partial.bytes().length), partial.bytes())).isTrue();
            assertPageHeaders(partial.bytes(), new WalSegments.Segment(partial.timeline(), partial.startLsn(), true,
                    partial.bytes().length));
        }
    }

    @Test
    void theSlotReleasesWalOnlyAfterItIsStored() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-slot");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            BackupStore store = openStore(dataDir, dataDir.resolve("backups").resolve("store"));
            long initialRestart = slotRestartLsn(postgres);
            for (int round = 0; round < 3; round++) {
                writeAndSwitch(postgres, "slot" + round, 1);
                long flushed = flushLsn(postgres);
                await().atMost(GUARD).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
                    // Read the slot first, the store second: the store only grows, so the slot must never be ahead.
                    long restart = slotRestartLsn(postgres);
                    long stored = WalSegments.read(store).end().orElse(0L);
                    assertThat(Long.compareUnsigned(restart, stored)).as("restart_lsn <= stored end").isLessThanOrEqualTo(0);
                    assertThat(Long.compareUnsigned(stored, flushed)).isGreaterThanOrEqualTo(0);
                });
            }
            await().atMost(GUARD).until(() -> Long.compareUnsigned(slotRestartLsn(postgres), initialRestart) > 0);
            try (Connection connection = connect(postgres); Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT slot_type, temporary FROM pg_replication_slots WHERE slot_name = 'silo_wal'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("physical");
                assertThat(rs.getBoolean(2)).isFalse();
            }
        }
    }

    @Test
    void aKilledPostmasterLeavesNoGap() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-kill");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            BackupStore store = openStore(dataDir, dataDir.resolve("backups").resolve("store"));
            writeAndSwitch(postgres, "before", 1);
            awaitStoreCovers(store, flushLsn(postgres));

            ProcessHandle postmaster = postgres.postmaster().orElseThrow();
            assertThat(postmaster.destroyForcibly()).isTrue();
            await().atMost(GUARD).until(() -> postgres.restarts() >= 1 && canConnect(postgres));

            await().atMost(GUARD).ignoreExceptions().untilAsserted(() -> writeAndSwitch(postgres, "after", 2));
            long flushed = flushLsn(postgres);
            awaitStoreCovers(store, flushed);
            WalSegments.Contents contents = WalSegments.read(store);
            assertThat(contents.firstGap()).isEmpty();
            for (WalSegments.Segment segment : contents.complete()) {
                assertPageHeaders(read(store, segment.name()), segment);
            }
        }
    }

    @Test
    void aFailingStoreHoldsTheSlotBackAndNothingIsLostWhenItComesBack() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-outage");
        Path storeRoot = dataDir.resolve("backups").resolve("store");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            BackupStore store = openStore(dataDir, storeRoot);
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            WalReceiver receiver = silo.walReceiver().orElseThrow();
            writeAndSwitch(postgres, "up", 1);
            awaitStoreCovers(store, flushLsn(postgres));

            // The store becomes unusable: its folder is moved away and a plain file takes its place.
            Path aside = dataDir.resolve("backups").resolve("store-aside");
            Files.move(storeRoot, aside);
            Files.writeString(storeRoot, "not a folder");
            long storedBefore = WalSegments.read(openStore(dataDir, aside)).end().orElseThrow();
            writeAndSwitch(postgres, "down", 2);
            long flushedDuringOutage = flushLsn(postgres);
            await().atMost(GUARD).until(() -> receiver.status().lastError() != null
                    && receiver.status().lastError().startsWith("backup store"));
            await().atMost(GUARD).untilAsserted(() -> assertThat(receiver.status().lagBytes()).isPositive());
            // Nothing the store failed to take was acknowledged: the slot still keeps it.
            assertThat(Long.compareUnsigned(slotRestartLsn(postgres), storedBefore)).isLessThanOrEqualTo(0);

            Files.delete(storeRoot);
            Files.move(aside, storeRoot);
            awaitStoreCovers(store, flushedDuringOutage);
            WalSegments.Contents contents = WalSegments.read(store);
            assertThat(contents.firstGap()).isEmpty();
            for (WalSegments.Segment segment : contents.complete()) {
                assertPageHeaders(read(store, segment.name()), segment);
            }
        }
    }

    @Test
    void aStoreOfAnotherTimelineIsRefusedClearly() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-timeline");
        BackupStore store = openStore(dataDir, dataDir.resolve("backups").resolve("store"));
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            awaitStoreCovers(store, flushLsn(silo.embedded().orElseThrow()));
        }
        // As if a copy restored on timeline 2 had written into this store.
        String foreign = "wal/00000002000000000000000F";
        store.put(foreign, new java.io.ByteArrayInputStream(new byte[PAGE]));
        WalSegments.Contents before = WalSegments.read(store);
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            WalReceiver receiver = silo.walReceiver().orElseThrow();
            await().atMost(GUARD).until(() -> receiver.status().lastError() != null);
            assertThat(receiver.status().lastError()).contains("timeline 1").contains("timeline 2").contains("refusing");
            writeAndSwitch(silo.embedded().orElseThrow(), "refused", 1);
            assertThat(receiver.status().connected()).isFalse();
        }
        assertThat(WalSegments.read(store)).isEqualTo(before);
    }

    @Test
    void aRestartedSiloResumesFromTheStoreEndWithNoGapAndNoDuplicate() throws Exception {
        Path dataDir = TestingSilo.newDataDir("wal-resume");
        BackupStore store = openStore(dataDir, dataDir.resolve("backups").resolve("store"));
        byte[] partialBefore;
        WalSegments.Segment lastBefore;
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            writeAndSwitch(postgres, "one", 1);
            write(postgres, "one_tail"); // leaves a partial segment
            long flushed = flushLsn(postgres);
            awaitStoreCovers(store, flushed);

            TestingHttp http = new TestingHttp(silo.baseUri());
            assertThat(http.get("/admin/backups").status()).isEqualTo(401);
            TestingHttp operator = http.withBearer(TestingSilo.operatorKey(silo));
            await().atMost(GUARD).untilAsserted(() -> {
                JsonNode body = operator.get("/admin/backups").json();
                assertThat(body.path("mode").asText()).isEqualTo("embedded");
                assertThat(body.path("wal").path("running").asBoolean()).isTrue();
                assertThat(lsn(body.path("wal").path("stored_up_to").asText())).isGreaterThanOrEqualTo(flushed);
                assertThat(body.path("wal").path("lag_bytes").isNumber()).isTrue();
                assertThat(body.path("store").path("wal_gap_at").isNull()).isTrue();
            });
            Run running = cli(dataDir, "backups", "status", "--json");
            assertThat(running.code()).as(running.err()).isZero();
            assertThat(running.json().path("receiver").asText()).isEqualTo("streaming");
        }
        WalSegments.Contents stopped = WalSegments.read(store);
        Run down = cli(dataDir, "backups", "status", "--json");
        assertThat(down.code()).as(down.err()).isZero();
        assertThat(down.json().path("receiver").asText()).isEqualTo("not running");
        assertThat(down.json().path("slot").asText()).isEqualTo("silo_wal");
        assertThat(lsn(down.json().path("store_wal_to").asText())).isEqualTo(stopped.end().orElseThrow());
        lastBefore = stopped.partial().orElseGet(() -> stopped.complete().getLast());
        partialBefore = lastBefore.partial() ? WalSegments.readPartial(store).orElseThrow().bytes() : read(store, lastBefore.name());
        assertThat(partialBefore).hasSize((int) lastBefore.size());

        try (Silo silo = TestingSilo.startNew(dataDir, Map.of())) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            writeAndSwitch(postgres, "two", 1);
            long flushed = flushLsn(postgres);
            awaitStoreCovers(store, flushed);
            WalReceiver.Status status = silo.walReceiver().orElseThrow().status();
            // A gap or an overlap in what the server sent would have been refused and recorded as an error.
            assertThat(status.lastError()).isNull();
        }
        WalSegments.Contents contents = WalSegments.read(store);
        assertThat(contents.firstGap()).isEmpty();
        assertThat(contents.complete().getFirst().startLsn()).isLessThanOrEqualTo(lastBefore.startLsn());
        // What was stored before the stop is the unchanged start of the segment stored after it.
        WalSegments.Segment continued = contents.complete().stream().filter(s -> s.startLsn() == lastBefore.startLsn())
                .findFirst().orElseThrow();
        byte[] after = read(store, continued.name());
        assertThat(Arrays.equals(Arrays.copyOf(after, partialBefore.length), partialBefore)).isTrue();
        assertPageHeaders(after, continued);
    }

    private record Run(int code, String out, String err) {
        JsonNode json() throws IOException {
            return Json.MAPPER.readTree(out);
        }
    }

    private static Run cli(Path dataDir, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> full = new ArrayList<>(List.of(args));
        full.add("--data-dir");
        full.add(dataDir.toString());
        int code = Main.run(full.toArray(String[]::new), Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static long lsn(String text) {
        String[] parts = text.split("/");
        return (Long.parseLong(parts[0], 16) << 32) + Long.parseLong(parts[1], 16);
    }

    /** Every 8 KiB page is either zero or starts with the WAL magic and its own address (xlp_pageaddr). */
    private static void assertPageHeaders(byte[] bytes, WalSegments.Segment segment) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int offset = 0; offset + PAGE <= bytes.length; offset += PAGE) {
            int magic = Short.toUnsignedInt(buffer.getShort(offset));
            long pageAddress = buffer.getLong(offset + 8);
            if (offset > 0 && magic == 0 && pageAddress == 0) {
                continue; // past an xlog switch, the rest of the segment may be zeros
            }
            assertThat(magic).as("magic of page %d of %s", offset / PAGE, segment.name()).isEqualTo(XLOG_PAGE_MAGIC);
            assertThat(buffer.getInt(offset + 4)).as("timeline").isEqualTo(segment.timeline());
            assertThat(pageAddress).as("xlp_pageaddr of page %d of %s", offset / PAGE, segment.name())
                    .isEqualTo(segment.startLsn() + offset);
        }
        assertThat(buffer.getInt(32)).as("xlp_seg_size in the long header").isEqualTo(WalSegments.SEGMENT_SIZE);
    }

    private static void awaitStoreCovers(BackupStore store, long lsn) {
        await().atMost(GUARD).pollInterval(Duration.ofMillis(100)).until(() -> {
            WalSegments.Contents contents = WalSegments.read(store);
            return contents.end().filter(end -> Long.compareUnsigned(end, lsn) >= 0).isPresent();
        });
    }

    private static void writeAndSwitch(EmbeddedPostgresServer postgres, String table, int segments) throws SQLException {
        for (int i = 0; i < segments; i++) {
            write(postgres, table + "_" + i);
            try (Connection connection = connect(postgres); Statement statement = connection.createStatement()) {
                statement.execute("SELECT pg_switch_wal()");
            }
        }
    }

    private static void write(EmbeddedPostgresServer postgres, String table) throws SQLException {
        try (Connection connection = connect(postgres); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE IF NOT EXISTS wal_" + table + " (id int, body text)");
            statement.execute("INSERT INTO wal_" + table + " SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g");
        }
    }

    private static byte[] pgWalFile(EmbeddedPostgresServer postgres, String file) throws SQLException {
        try (Connection connection = connect(postgres);
             var statement = connection.prepareStatement("SELECT pg_read_binary_file('pg_wal/' || ?)")) {
            statement.setString(1, file);
            try (ResultSet rs = statement.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getBytes(1);
            }
        }
    }

    private static long flushLsn(EmbeddedPostgresServer postgres) throws SQLException {
        return queryLong(postgres, "SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn");
    }

    private static long slotRestartLsn(EmbeddedPostgresServer postgres) throws SQLException {
        return queryLong(postgres, "SELECT restart_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'silo_wal'");
    }

    private static long queryLong(EmbeddedPostgresServer postgres, String sql) throws SQLException {
        try (Connection connection = connect(postgres); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getBigDecimal(1).longValueExact();
        }
    }

    private static boolean canConnect(EmbeddedPostgresServer postgres) {
        try (Connection ignored = connect(postgres)) {
            return true;
        } catch (SQLException e) {
            return false;
        }
    }

    private static Connection connect(EmbeddedPostgresServer postgres) throws SQLException {
        DatabaseUrl url = postgres.adminUrl(Silo.CATALOG_DATABASE);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }

    /**
     * The node's backup store as Silo opens it: the folder behind the encrypting store (the folder itself holds only
     * ciphertext), under the master key the node generated in its data directory.
     */
    private static BackupStore openStore(Path dataDir, Path root) throws IOException {
        SiloConfig config = SiloConfig.resolve(SiloConfig.Flags.none(), Map.of("SILO_DATA_DIR", dataDir.toString()));
        return EncryptedBackupStore.open(new FileBackupStore(root), MasterKeys.load(config));
    }

    private static byte[] read(BackupStore store, String name) throws IOException {
        try (InputStream in = store.get(name).orElseThrow()) {
            return in.readAllBytes();
        }
    }
}

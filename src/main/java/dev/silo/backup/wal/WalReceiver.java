package dev.silo.backup.wal;

import dev.silo.backup.BackupStore;
import dev.silo.platform.config.DatabaseUrl;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * Streams the embedded server's WAL into the backup store as {@code pg_receivewal} does (claim C14): a platform
 * daemon thread reads the physical replication stream of the permanent slot {@value #SLOT}, fills one 16 MiB segment
 * at a time, puts what arrived since the last put as a piece {@code wal/<segment>.partial.<from>-<to>} at least every
 * second while WAL arrives (at once in synchronous mode) and the whole segment as {@code wal/<segment>} once it is
 * full (then deletes the pieces), and only after a put returned reports
 * that position to the server as flushed. The slot therefore keeps every byte that is not yet durable in the store,
 * whether Silo is down, the store fails or PostgreSQL restarts; on any error the receiver closes the stream, waits
 * (backoff up to 30 s) and resumes from the store's end.
 */
public final class WalReceiver implements AutoCloseable {
    public static final String SLOT = "silo_wal";
    /** The replication connection's {@code application_name}, which {@code synchronous_standby_names} names. */
    public static final String APPLICATION_NAME = "silo_wal";
    private static final Logger log = LoggerFactory.getLogger(WalReceiver.class);
    private static final Duration PARTIAL_INTERVAL = Duration.ofSeconds(1);
    private static final Duration LAG_INTERVAL = Duration.ofSeconds(1);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    private final Supplier<DatabaseUrl> adminUrl;
    private final BackupStore store;
    private final Clock clock;
    private final Thread thread;
    private final Thread watchdog;
    private final Synchronous synchronous;
    private volatile boolean synchronousEngaged;
    private volatile Instant noProgressSince;
    private volatile boolean running = true;
    private final java.util.concurrent.CountDownLatch stopping = new java.util.concurrent.CountDownLatch(1);
    private volatile Status status;

    // Touched by the receiver thread only.
    private final byte[] segment = new byte[WalSegments.SEGMENT_SIZE];
    private long segmentStart;
    private int filled;
    private int timeline;
    private long storedUpTo = -1;
    /**
     * Set when the watchdog suspended synchronous mode, with what the store held then: the receiver engages it again
     * only once the store has taken WAL since (a small lag alone would re-engage it against a store still down, and
     * commits would hang again every few seconds through the outage).
     */
    private volatile boolean suspendedForStore;
    private volatile long storedAtSuspension;
    private Instant lastPartialPut = Instant.EPOCH;
    private int storedFilled;
    private boolean acknowledgePending;
    /**
     * Whether the current session stored WAL (a put succeeded): its failure then starts the backoff over. Streaming
     * alone is not enough: with the store down every session streams, fails at its first put, and would reconnect
     * twice a second through the whole outage.
     */
    private boolean streamed;
    /** When the current session started streaming; null before. A session that streamed a minute also counts. */
    private Instant streamingSince;
    private final Deque<FlushSample> unstored = new ArrayDeque<>();

    private record FlushSample(long lsn, Instant seenAt) {}

    /**
     * What the receiver knows. LSNs are in PostgreSQL's text form ({@code 0/3000148}); absent values are null.
     *
     * @param running       whether the receiver thread runs
     * @param connected     whether it streams right now
     * @param timeline      the timeline it streams
     * @param receivedUpTo  the end of the last WAL received
     * @param receivedAt    when WAL last arrived
     * @param storedUpTo    the end of the WAL the store holds with no gap
     * @param serverFlush   the server's {@code pg_current_wal_flush_lsn()} at the last measurement
     * @param lagBytes      server flush position minus stored position
     * @param lagSeconds    how long the oldest flushed-but-not-stored WAL has been waiting (0 when the store is level)
     * @param slotWalStatus the slot's {@code wal_status} ({@code reserved}, {@code extended}, {@code unreserved} =
     *                      near the {@code max_slot_wal_keep_size} bound, {@code lost})
     * @param slotSafeBytes how much more WAL the server may write before the slot is at its bound
     * @param store         where the WAL goes
     * @param lastError     the last failure, without secrets
     * @param lastErrorAt   when it happened
     * @param synchronous   {@code off} (commits never wait for the receiver), {@code on} (commits wait until the store
     *                      holds their WAL), or {@code suspended} (configured, but commits do not wait right now: the
     *                      receiver has not caught up yet, or the server waited on it with no progress for longer than
     *                      {@code SILO_BACKUP_SYNCHRONOUS_WAIT_SECONDS} and Silo fell back to asynchronous)
     */
    public record Status(boolean running, boolean connected, Integer timeline, String receivedUpTo, Instant receivedAt,
                         String storedUpTo, String serverFlush, Long lagBytes, Double lagSeconds, String slotWalStatus,
                         Long slotSafeBytes, String store, String lastError, Instant lastErrorAt, String synchronous) {}

    /**
     * Synchronous mode ({@code SILO_BACKUP_SYNCHRONOUS=on}): commits wait until the store holds their WAL, but never
     * for longer than {@code maxWait} on a receiver that makes no progress.
     */
    public record Synchronous(boolean enabled, Duration maxWait) {
        public static final Synchronous OFF = new Synchronous(false, Duration.ofSeconds(10));

        public Synchronous {
            requireNonNull(maxWait, "maxWait is null");
            if (maxWait.isNegative() || maxWait.isZero()) {
                throw new IllegalArgumentException("maxWait must be positive: " + maxWait);
            }
        }
    }

    private WalReceiver(Supplier<DatabaseUrl> adminUrl, BackupStore store, Clock clock, Synchronous synchronous) {
        this.adminUrl = requireNonNull(adminUrl, "adminUrl is null");
        this.store = requireNonNull(store, "store is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.synchronous = requireNonNull(synchronous, "synchronous is null");
        this.status = new Status(true, false, null, null, null, null, null, null, null, null, null, store.describe(), null, null, "off");
        this.thread = Thread.ofPlatform().daemon().name("silo-wal-receiver").unstarted(this::run);
        this.watchdog = Thread.ofPlatform().daemon().name("silo-wal-synchronous-watchdog").unstarted(this::watch);
    }

    /**
     * Ensures the slot exists (so WAL is kept from now on even if streaming cannot start yet) and starts the thread.
     *
     * @param adminUrl a superuser location on the embedded server
     */
    public static WalReceiver start(Supplier<DatabaseUrl> adminUrl, BackupStore store, Clock clock) {
        return start(adminUrl, store, clock, Synchronous.OFF);
    }

    /** As {@link #start(Supplier, BackupStore, Clock)}, in synchronous mode when {@code synchronous} says so. */
    public static WalReceiver start(Supplier<DatabaseUrl> adminUrl, BackupStore store, Clock clock, Synchronous synchronous) {
        WalReceiver receiver = new WalReceiver(adminUrl, store, clock, synchronous);
        try (Connection connection = receiver.sqlConnection()) {
            ensureSlot(connection);
        } catch (SQLException e) {
            // The thread tries again; meanwhile the status says why.
            receiver.recordError("cannot create the replication slot " + SLOT + ": " + e.getMessage());
        }
        receiver.thread.start();
        if (synchronous.enabled()) {
            receiver.watchdog.start();
        }
        return receiver;
    }

    private String synchronousState() {
        if (synchronous == null || !synchronous.enabled()) {
            return "off";
        }
        return synchronousEngaged ? "on" : "suspended";
    }

    /**
     * Makes commits wait for this receiver: {@code synchronous_standby_names} names the replication connection's
     * {@code application_name} {@value #APPLICATION_NAME}. Done through {@code ALTER SYSTEM} (which the embedded
     * server resets at every start, so a killed Silo never leaves commits waiting for a receiver that is gone) and
     * only once the store has caught up with the server, so commits never wait for a backlog.
     */
    private void engageSynchronous(Connection sql) throws SQLException {
        try (Statement statement = sql.createStatement()) {
            statement.execute("ALTER SYSTEM SET synchronous_standby_names = '\"" + APPLICATION_NAME + "\"'");
            statement.execute("SELECT pg_reload_conf()");
        }
        synchronousEngaged = true;
        suspendedForStore = false;
        noProgressSince = null;
        log.info("WAL receiver: synchronous mode on: commits now wait until the backup store holds their WAL");
        updateStatus(true, null);
    }

    /** Back to asynchronous: waiting commits are released at once (the server drops its wait queue on reload). */
    private void disengageSynchronous(Connection sql) throws SQLException {
        storedAtSuspension = storedUpTo;
        suspendedForStore = true;
        try (Statement statement = sql.createStatement()) {
            statement.execute("ALTER SYSTEM RESET synchronous_standby_names");
            statement.execute("SELECT pg_reload_conf()");
        }
        synchronousEngaged = false;
    }

    /**
     * Runs beside the receiver in synchronous mode: when commits wait on the receiver ({@code wait_event = 'SyncRep'})
     * and what the store holds has not moved for {@link Synchronous#maxWait()} (the store unreachable, the receiver
     * disconnected or stuck in a put), falls back to asynchronous with a warning, so a store outage costs RPO, not
     * every request of every tenant. The receiver engages synchronous mode again once it has caught up.
     */
    private void watch() {
        long lastStored = Long.MIN_VALUE;
        while (running) {
            try {
                if (stopping.await(250, TimeUnit.MILLISECONDS)) {
                    break;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            if (!synchronousEngaged) {
                noProgressSince = null;
                continue;
            }
            try (Connection sql = sqlConnection(); Statement statement = sql.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")) {
                rs.next();
                boolean waiting = rs.getLong(1) > 0;
                long stored = storedUpTo;
                Instant now = clock.instant();
                if (!waiting || stored != lastStored) {
                    noProgressSince = waiting ? now : null;
                    lastStored = stored;
                    continue;
                }
                if (noProgressSince == null) {
                    noProgressSince = now;
                } else if (Duration.between(noProgressSince, now).compareTo(synchronous.maxWait()) >= 0) {
                    disengageSynchronous(sql);
                    String reason = "synchronous mode suspended: commits waited " + synchronous.maxWait().toSeconds()
                            + " s on the WAL receiver with no progress (" + (status.lastError() == null ? "no error reported"
                            : status.lastError()) + "); commits no longer wait for the backup store until it catches up";
                    log.warn("WAL receiver: {}", reason);
                    recordError(reason);
                    noProgressSince = null;
                }
            } catch (SQLException e) {
                log.debug("WAL receiver watchdog: {}", e.getMessage());
            }
        }
    }

    public Status status() {
        return status;
    }

    /** Where the receiver puts the WAL. */
    public BackupStore store() {
        return store;
    }

    /** Stops the thread after it puts what it received (best effort) and closes the stream. */
    @Override
    public void close() {
        running = false;
        // No interrupt: it would break a put in the middle (file channels close on interrupt) and lose the last
        // partial put; the stream loop polls every 10 ms and the backoff waits on this latch.
        stopping.countDown();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
            watchdog.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (synchronousEngaged) {
            try (Connection sql = sqlConnection()) {
                disengageSynchronous(sql);
            } catch (SQLException e) {
                log.warn("WAL receiver: cannot turn synchronous mode off at stop: {}", e.getMessage());
            }
        }
        Status last = status;
        status = new Status(false, false, last.timeline(), last.receivedUpTo(), last.receivedAt(), last.storedUpTo(),
                last.serverFlush(), last.lagBytes(), last.lagSeconds(), last.slotWalStatus(), last.slotSafeBytes(),
                last.store(), last.lastError(), last.lastErrorAt(), synchronousState());
    }

    static void ensureSlot(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT 1 FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'")) {
            if (rs.next()) {
                return;
            }
        }
        try (var statement = connection.prepareStatement("SELECT pg_create_physical_replication_slot(?, true)")) {
            statement.setString(1, SLOT);
            statement.execute();
            log.info("Created the permanent physical replication slot {} for the backup WAL receiver", SLOT);
        } catch (SQLException e) {
            if (!"42710".equals(e.getSQLState())) { // created meanwhile by another start: fine
                throw e;
            }
        }
    }

    private void run() {
        int failures = 0;
        while (running) {
            try {
                stream();
                failures = 0;
            } catch (Exception e) {
                if (!running) {
                    break;
                }
                if (streamed || (streamingSince != null
                        && Duration.between(streamingSince, clock.instant()).compareTo(Duration.ofMinutes(1)) >= 0)) {
                    // A session that stored WAL was a success: a PostgreSQL restart hours after a store outage waits
                    // 0.5 s before reconnecting, not the longest backoff the outage reached.
                    failures = 0;
                }
                failures++;
                recordError(describe(e));
                log.warn("WAL receiver: {}; retrying (attempt {})", describe(e), failures);
                measureLagQuietly(); // the lag keeps growing while the receiver is down: keep measuring it
                Duration backoff = Duration.ofMillis(Math.min(MAX_BACKOFF.toMillis(), 250L << Math.min(failures, 7)));
                try {
                    stopping.await(backoff.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
    }

    /** One session: resume from the store's end, stream until stopped or something fails. */
    private void stream() throws Exception {
        streamed = false;
        streamingSince = null;
        try (Connection sql = sqlConnection(); Connection replication = replicationConnection()) {
            ensureSlot(sql);
            checkSegmentSize(sql);
            int serverTimeline = identifyTimeline(replication);
            long start = resume(sql, serverTimeline);
            PGReplicationStream stream = replication.unwrap(PGConnection.class).getReplicationAPI().replicationStream()
                    .physical()
                    .withSlotName(SLOT)
                    .withStartPosition(LogSequenceNumber.valueOf(start))
                    .withStatusInterval(1, TimeUnit.SECONDS)
                    .start();
            try {
                log.info("WAL receiver streaming timeline {} from {} into {}", timeline, WalSegments.format(start), store.describe());
                acknowledge(stream);
                updateStatus(true, null);
                streamingSince = clock.instant();
                Instant lastLag = Instant.EPOCH;
                while (running) {
                    ByteBuffer message = stream.readPending();
                    if (message != null) {
                        long end = stream.getLastReceiveLSN().asLong();
                        append(message, end - message.remaining());
                    } else {
                        // pgjdbc offers no wait for the next message with a timeout; in synchronous mode every
                        // commit waits for this loop, so it looks again after 1 ms instead of 10.
                        Thread.sleep(synchronousEngaged ? 1 : 10);
                    }
                    Instant now = clock.instant();
                    // Synchronous: commits wait for this put, so make it as soon as nothing more is pending.
                    boolean due = synchronousEngaged ? message == null
                            : Duration.between(lastPartialPut, now).compareTo(PARTIAL_INTERVAL) >= 0;
                    if (filled > storedFilled && due) {
                        putPartial();
                    }
                    if (acknowledgePending) {
                        acknowledge(stream);
                    }
                    if (Duration.between(lastLag, now).compareTo(LAG_INTERVAL) >= 0) {
                        measureLag(sql);
                        lastLag = now;
                        Long lagBytes = status.lagBytes();
                        // Caught up to within one segment: the first waiting commit then waits for one put, not a backlog.
                        if (synchronous.enabled() && !synchronousEngaged && lagBytes != null && lagBytes <= WalSegments.SEGMENT_SIZE
                                && (!suspendedForStore || storedUpTo != storedAtSuspension)) {
                            engageSynchronous(sql);
                        }
                    }
                }
                if (filled > storedFilled) {
                    putPartial();
                    acknowledge(stream);
                }
            } finally {
                try {
                    stream.close();
                } catch (SQLException e) {
                    log.debug("closing the replication stream: {}", e.getMessage());
                }
            }
        } catch (InterruptedException e) {
            if (running) {
                throw e;
            }
        }
    }

    /** Where to start: the end of what the store holds, loading its partial segment; else the slot's first segment. */
    private long resume(Connection sql, int serverTimeline) throws IOException, SQLException {
        WalSegments.Contents contents = WalSegments.read(store);
        Optional<WalSegments.Segment> last = contents.partial().or(() -> Optional.ofNullable(
                contents.complete().isEmpty() ? null : contents.complete().getLast()));
        if (last.isPresent() && last.get().timeline() != serverTimeline) {
            // Silo's embedded server never promotes, so a new timeline means this store belongs to another history
            // (a restored copy pointed at the live store, or the reverse): refuse rather than mix histories.
            throw new IllegalStateException("the server is on timeline " + serverTimeline + " but the store " + store.describe()
                    + " holds timeline " + last.get().timeline() + "; refusing to stream into it (point the restored copy at a new store)");
        }
        timeline = serverTimeline;
        long restartLsn = slotRestartLsn(sql);
        long start;
        if (last.isEmpty()) {
            start = WalSegments.segmentStart(restartLsn);
            segmentStart = start;
            filled = 0;
        } else {
            long end = last.get().endLsn();
            if (Long.compareUnsigned(end, WalSegments.segmentStart(restartLsn)) < 0) {
                // The slot was invalidated or recreated: WAL between the store's end and the slot is gone.
                log.error("WAL receiver: the store ends at {} but the server keeps WAL only from {}: WAL in between is lost; "
                        + "take a base backup", WalSegments.format(end), WalSegments.format(restartLsn));
                end = WalSegments.segmentStart(restartLsn);
                segmentStart = end;
                filled = 0;
            } else if (last.get().partial()) {
                segmentStart = last.get().startLsn();
                WalSegments.Partial partial = WalSegments.readPartial(store).filter(p -> p.startLsn() == segmentStart)
                        .orElseThrow(() -> new IOException("the partial segment " + last.get().name() + " vanished"));
                System.arraycopy(partial.bytes(), 0, segment, 0, partial.bytes().length);
                filled = partial.bytes().length;
                end = segmentStart + filled;
            } else {
                segmentStart = end;
                filled = 0;
            }
            start = end;
        }
        storedFilled = filled;
        storedUpTo = start;
        // Pieces left behind by a crash between the whole segment's put and the pieces' delete are stale.
        for (String stale : WalSegments.stalePieceObjects(store, segmentStart)) {
            try {
                store.delete(stale);
            } catch (IOException e) {
                log.debug("cannot delete the stale {}: {}", stale, e.getMessage());
            }
        }
        return start;
    }

    private void append(ByteBuffer message, long messageStart) throws IOException {
        long expected = segmentStart + filled;
        if (messageStart != expected) {
            throw new IllegalStateException("the server sent WAL from " + WalSegments.format(messageStart) + " but "
                    + WalSegments.format(expected) + " was expected");
        }
        while (message.hasRemaining()) {
            int chunk = Math.min(message.remaining(), segment.length - filled);
            message.get(segment, filled, chunk);
            filled += chunk;
            updateReceived(segmentStart + filled);
            if (filled == segment.length) {
                completeSegment();
            }
        }
    }

    private void completeSegment() throws IOException {
        String name = WalSegments.name(timeline, segmentStart);
        store.put(name, new ByteArrayInputStream(segment, 0, filled));
        // The pieces are stale from here on (WalSegments.read ignores pieces next to a whole segment).
        for (String piece : WalSegments.pieceObjects(store, segmentStart)) {
            store.delete(piece);
        }
        storedUpTo = segmentStart + filled;
        streamed = true;
        segmentStart += segment.length;
        filled = 0;
        storedFilled = 0;
        acknowledgePending = true;
        updateStatus(true, null);
    }

    private void putPartial() throws IOException {
        // Only what arrived since the last piece: a put costs what it carries, not the whole partial segment.
        store.put(WalSegments.pieceName(timeline, segmentStart, storedFilled, filled),
                new ByteArrayInputStream(segment, storedFilled, filled - storedFilled));
        storedFilled = filled;
        storedUpTo = segmentStart + filled;
        lastPartialPut = clock.instant();
        acknowledgePending = true;
        updateStatus(true, null);
    }

    /** Tells the server what the store holds: the slot may release WAL before it, never after. */
    private void acknowledge(PGReplicationStream stream) throws SQLException {
        LogSequenceNumber stored = LogSequenceNumber.valueOf(storedUpTo);
        stream.setFlushedLSN(stored);
        stream.setAppliedLSN(stored);
        stream.forceUpdateStatus();
        acknowledgePending = false;
    }

    private void measureLag(Connection sql) throws SQLException {
        try (Statement statement = sql.createStatement();
             ResultSet rs = statement.executeQuery("""
                     SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn AS flush,
                            (SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'silo_wal') AS wal_status,
                            (SELECT safe_wal_size FROM pg_replication_slots WHERE slot_name = 'silo_wal') AS safe_wal_size
                     """)) {
            rs.next();
            long flush = rs.getBigDecimal("flush").longValueExact();
            String walStatus = rs.getString("wal_status");
            long safe = rs.getLong("safe_wal_size");
            Long safeBytes = rs.wasNull() ? null : safe;
            Instant now = clock.instant();
            if (unstored.isEmpty() || Long.compareUnsigned(unstored.getLast().lsn(), flush) < 0) {
                unstored.addLast(new FlushSample(flush, now));
            }
            while (!unstored.isEmpty() && Long.compareUnsigned(unstored.getFirst().lsn(), storedUpTo) <= 0) {
                unstored.removeFirst();
            }
            // Until the next sample all that the server flushed before "now" counts as waiting since its first sighting.
            double lagSeconds = unstored.isEmpty() ? 0.0 : Duration.between(unstored.getFirst().seenAt(), now).toMillis() / 1000.0;
            long lagBytes = Math.max(0, flush - storedUpTo);
            Status last = status;
            status = new Status(true, true, timeline, last.receivedUpTo(), last.receivedAt(), WalSegments.format(storedUpTo),
                    WalSegments.format(flush), lagBytes, lagSeconds, walStatus, safeBytes, store.describe(),
                    last.lastError(), last.lastErrorAt(), synchronousState());
            if ("unreserved".equals(walStatus)) {
                log.warn("WAL receiver: the slot {} is past max_slot_wal_keep_size; the server may remove WAL the store does not hold yet", SLOT);
            }
        }
    }

    private void measureLagQuietly() {
        if (storedUpTo < 0) {
            return;
        }
        try (Connection sql = sqlConnection()) {
            measureLag(sql);
            Status last = status;
            status = new Status(true, false, last.timeline(), last.receivedUpTo(), last.receivedAt(), last.storedUpTo(),
                    last.serverFlush(), last.lagBytes(), last.lagSeconds(), last.slotWalStatus(), last.slotSafeBytes(),
                    last.store(), last.lastError(), last.lastErrorAt(), synchronousState());
        } catch (SQLException e) {
            log.debug("cannot measure the WAL lag: {}", e.getMessage());
        }
    }

    private void updateReceived(long receivedUpTo) {
        Status last = status;
        status = new Status(true, true, timeline, WalSegments.format(receivedUpTo), clock.instant(), last.storedUpTo(),
                last.serverFlush(), last.lagBytes(), last.lagSeconds(), last.slotWalStatus(), last.slotSafeBytes(),
                last.store(), last.lastError(), last.lastErrorAt(), synchronousState());
    }

    private void updateStatus(boolean connected, String error) {
        Status last = status;
        status = new Status(running, connected, timeline == 0 ? null : timeline, last.receivedUpTo(), last.receivedAt(),
                storedUpTo < 0 ? last.storedUpTo() : WalSegments.format(storedUpTo), last.serverFlush(), last.lagBytes(),
                last.lagSeconds(), last.slotWalStatus(), last.slotSafeBytes(), last.store(),
                error == null ? last.lastError() : error, error == null ? last.lastErrorAt() : clock.instant(), synchronousState());
    }

    private void recordError(String message) {
        updateStatus(false, message);
    }

    private static String describe(Exception e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return e instanceof IOException ? "backup store: " + message : message;
    }

    /** Silo names and cuts segments at 16 MiB; a server initialised with another {@code --wal-segsize} is refused. */
    private static void checkSegmentSize(Connection sql) throws SQLException {
        try (Statement statement = sql.createStatement();
             ResultSet rs = statement.executeQuery("SELECT pg_size_bytes(current_setting('wal_segment_size'))")) {
            rs.next();
            long size = rs.getLong(1);
            if (size != WalSegments.SEGMENT_SIZE) {
                throw new IllegalStateException("the server's wal_segment_size is " + size + " bytes; the WAL receiver "
                        + "supports only " + WalSegments.SEGMENT_SIZE + " (16 MiB, initdb's default)");
            }
        }
    }

    private static long slotRestartLsn(Connection sql) throws SQLException {
        try (Statement statement = sql.createStatement();
             ResultSet rs = statement.executeQuery(
                     "SELECT restart_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'")) {
            if (!rs.next() || rs.getBigDecimal(1) == null) {
                throw new IllegalStateException("the replication slot " + SLOT + " holds no WAL (invalidated?)");
            }
            return rs.getBigDecimal(1).longValueExact();
        }
    }

    private static int identifyTimeline(Connection replication) throws SQLException {
        try (Statement statement = replication.createStatement(); ResultSet rs = statement.executeQuery("IDENTIFY_SYSTEM")) {
            rs.next();
            return rs.getInt("timeline");
        }
    }

    private Connection sqlConnection() throws SQLException {
        DatabaseUrl url = adminUrl.get();
        Properties properties = url.properties();
        PGProperty.APPLICATION_NAME.set(properties, "silo-wal-receiver");
        return DriverManager.getConnection(url.jdbcUrl(), properties);
    }

    private Connection replicationConnection() throws SQLException {
        DatabaseUrl url = adminUrl.get();
        Properties properties = url.properties();
        PGProperty.REPLICATION.set(properties, "true");
        PGProperty.PREFER_QUERY_MODE.set(properties, "simple");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(properties, "17");
        PGProperty.APPLICATION_NAME.set(properties, APPLICATION_NAME);
        return DriverManager.getConnection(url.jdbcUrl(), properties);
    }
}

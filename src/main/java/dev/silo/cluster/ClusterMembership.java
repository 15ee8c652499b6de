package dev.silo.cluster;

import dev.silo.platform.config.DatabaseUrl;
import org.postgresql.PGProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * This node's place in the cluster: its heartbeat row in {@code cluster_nodes} and the leases of the
 * {@link ClusterJob}s it holds, both kept on one dedicated catalog connection (outside the pool, so no pool
 * eviction or recycling ever ends the session under a lease).
 *
 * <p><b>Leadership.</b> A job's lease is the session-level advisory lock {@code (LEASE_SPACE, job key)} on that
 * connection. Every {@link #BEAT} the node takes each free lease, so the first node up holds them all and another
 * takes one over within a beat of the holder's session ending: at once when its process dies (the kernel closes
 * the socket), within about {@link #KEEPALIVE_LOSS} when its machine vanishes (TCP keepalives set on the session).
 * Session locks rather than a transaction lock per round: a round may last minutes (a tenant's backup), the holder
 * stays the same between rounds (so {@code GET /admin/cluster} can say who runs what), and nothing stays idle in a
 * transaction. PostgreSQL is the only arbiter: no home-made consensus, no clocks compared between nodes.
 *
 * <p><b>Split brain.</b> A round runs only after the lease is confirmed on the live session ({@link #runIfHeld});
 * a node whose session broke drops every lease at the next statement. A round already running when its holder's
 * session ends may overlap the next holder's first round; the jobs keep their own per-round and per-tenant
 * advisory locks under the lease, which also serve the command line and nodes of older releases.
 */
public final class ClusterMembership implements AutoCloseable {
    public static final Duration BEAT = Duration.ofSeconds(5);
    /** A node unseen for this long is not live. */
    public static final Duration LIVE = Duration.ofSeconds(30);
    /** Rows unseen for this long are deleted. */
    public static final Duration FORGET = Duration.ofMinutes(10);
    static final Duration KEEPALIVE_LOSS = Duration.ofSeconds(25);
    private static final Logger log = LoggerFactory.getLogger(ClusterMembership.class);

    private final DatabaseUrl catalogUrl;
    private final UUID nodeId = UUID.randomUUID();
    private final String host;
    private final String version;
    private final Instant startedAt;
    private final Supplier<List<String>> nodeJobs;
    private final Map<ClusterJob, Runnable> rounds = new EnumMap<>(ClusterJob.class);
    private final ReentrantLock session = new ReentrantLock();
    private final ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("silo-cluster").factory());

    // Guarded by session.
    private Connection connection;
    private EnumSet<ClusterJob> held = EnumSet.noneOf(ClusterJob.class);
    private boolean stopped;
    private boolean failing;

    /**
     * @param host      what the API shows as the node's host ({@code DYNO} or the host name, with the pid)
     * @param nodeJobs  the node-local jobs this node runs, as the API shows them
     */
    public ClusterMembership(DatabaseUrl catalogUrl, String host, String version, Instant startedAt,
                             Supplier<List<String>> nodeJobs) {
        this.catalogUrl = requireNonNull(catalogUrl, "catalogUrl is null");
        this.host = requireNonNull(host, "host is null");
        this.version = requireNonNull(version, "version is null");
        this.startedAt = requireNonNull(startedAt, "startedAt is null");
        this.nodeJobs = requireNonNull(nodeJobs, "nodeJobs is null");
    }

    /** The work of a job's round, run by {@link #runIfHeld}. Register before {@link #start}. */
    public ClusterMembership register(ClusterJob job, Runnable round) {
        rounds.put(requireNonNull(job, "job is null"), requireNonNull(round, "round is null"));
        return this;
    }

    /** Writes the first heartbeat (taking the free leases) and beats every {@link #BEAT} from now on. */
    public ClusterMembership start() {
        beat();
        beats.scheduleWithFixedDelay(this::beat, BEAT.toMillis(), BEAT.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    public UUID nodeId() {
        return nodeId;
    }

    /**
     * Runs one round of {@code job} on the calling thread if this node holds its lease, taking it first when it is
     * free; the lease is confirmed on the live session right before. False when another node holds it (or the
     * catalog cannot be reached): the round is that node's.
     */
    public boolean runIfHeld(ClusterJob job) {
        Runnable round = requireNonNull(rounds.get(job), () -> "no round registered for " + job);
        if (!holdsConfirmed(job)) {
            return false;
        }
        round.run();
        return true;
    }

    /** The leases this node believes it holds (as of its last statement on the session). */
    public Set<ClusterJob> held() {
        session.lock();
        try {
            return EnumSet.copyOf(held);
        } finally {
            session.unlock();
        }
    }

    private boolean holdsConfirmed(ClusterJob job) {
        session.lock();
        try {
            if (stopped || !connected()) {
                return false;
            }
            refreshHeld();
            if (!held.contains(job) && tryTake(job)) {
                held.add(job);
            }
            return held.contains(job);
        } catch (SQLException e) {
            lost(e);
            return false;
        } finally {
            session.unlock();
        }
    }

    private void beat() {
        session.lock();
        try {
            if (stopped || !connected()) {
                return;
            }
            refreshHeld();
            for (ClusterJob job : rounds.keySet()) {
                if (!held.contains(job) && tryTake(job)) {
                    held.add(job);
                    log.info("This node ({}) now holds the cluster job {}", nodeId, job.jobName());
                }
            }
            upsertRow();
            forgetOldRows();
            if (failing) {
                failing = false;
                log.info("Cluster heartbeat restored for node {}", nodeId);
            }
        } catch (SQLException | RuntimeException e) {
            lost(e);
        } finally {
            session.unlock();
        }
    }

    /** Opens the session if there is none; false (logged once) when the catalog cannot be reached. */
    private boolean connected() {
        if (connection != null) {
            return true;
        }
        try {
            Properties properties = catalogUrl.properties();
            PGProperty.APPLICATION_NAME.set(properties, "silo-cluster");
            PGProperty.CONNECT_TIMEOUT.set(properties, 5);
            PGProperty.SOCKET_TIMEOUT.set(properties, 15); // a hung statement breaks the session instead of the beat
            PGProperty.TCP_KEEP_ALIVE.set(properties, true);
            Connection opened = DriverManager.getConnection(catalogUrl.jdbcUrl(), properties);
            try (Statement statement = opened.createStatement()) {
                // The server notices a vanished node (no FIN) after idle + interval * count, and frees its leases.
                statement.execute("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3");
            }
            connection = opened;
            held = EnumSet.noneOf(ClusterJob.class);
            return true;
        } catch (SQLException e) {
            lost(e);
            return false;
        }
    }

    private void refreshHeld() throws SQLException {
        EnumSet<ClusterJob> now = EnumSet.noneOf(ClusterJob.class);
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT objid::int FROM pg_locks
                WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = ? AND objsubid = 2 AND granted
                """)) {
            select.setInt(1, ClusterJob.LEASE_SPACE);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    ClusterJob.byKey(rs.getInt(1)).ifPresent(now::add);
                }
            }
        }
        held = now;
    }

    private boolean tryTake(ClusterJob job) throws SQLException {
        try (PreparedStatement lock = connection.prepareStatement("SELECT pg_try_advisory_lock(?, ?)")) {
            lock.setInt(1, ClusterJob.LEASE_SPACE);
            lock.setInt(2, job.key());
            try (ResultSet rs = lock.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private void upsertRow() throws SQLException {
        try (PreparedStatement upsert = connection.prepareStatement("""
                INSERT INTO cluster_nodes (id, host, version, started_at, last_seen, lease_pid, node_jobs)
                VALUES (?, ?, ?, ?, now(), pg_backend_pid(), ?)
                ON CONFLICT (id) DO UPDATE SET last_seen = now(), lease_pid = pg_backend_pid(), node_jobs = excluded.node_jobs
                """)) {
            upsert.setObject(1, nodeId);
            upsert.setString(2, host);
            upsert.setString(3, version);
            upsert.setTimestamp(4, Timestamp.from(startedAt));
            upsert.setArray(5, connection.createArrayOf("text", nodeJobs.get().toArray()));
            upsert.executeUpdate();
        }
    }

    private void forgetOldRows() throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement(
                "DELETE FROM cluster_nodes WHERE last_seen < now() - make_interval(secs => ?)")) {
            delete.setLong(1, FORGET.toSeconds());
            delete.executeUpdate();
        }
    }

    /** The session broke (or cannot open): every lease is gone with it; the next beat opens a new one. */
    private void lost(Exception e) {
        if (!held.isEmpty()) {
            log.warn("Node {} lost its catalog session, and with it the cluster jobs {}: {}", nodeId,
                    held.stream().map(ClusterJob::jobName).toList(), e.toString());
        } else if (!failing) {
            log.warn("Cluster heartbeat of node {} failed; retried every {} s: {}", nodeId, BEAT.toSeconds(), e.toString());
        }
        failing = true;
        held = EnumSet.noneOf(ClusterJob.class);
        closeQuietly(connection);
        connection = null;
    }

    /**
     * What a crash does, for tests of failover: the beats stop and the session is cut without unlocking or
     * deleting the row, so the leases go only because PostgreSQL ends the session, and the row goes stale.
     */
    public void halt() {
        beats.shutdownNow();
        session.lock();
        try {
            stopped = true;
            held = EnumSet.noneOf(ClusterJob.class);
            if (connection != null) {
                try {
                    connection.abort(Runnable::run);
                } catch (SQLException e) {
                    // aborted either way
                }
                connection = null;
            }
        } finally {
            session.unlock();
        }
    }

    /** Orderly stop: deletes this node's row and ends the session, which releases its leases at once. */
    @Override
    public void close() {
        beats.shutdownNow();
        try {
            beats.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        session.lock();
        try {
            if (stopped) {
                return;
            }
            stopped = true;
            if (connection != null) {
                try (PreparedStatement delete = connection.prepareStatement("DELETE FROM cluster_nodes WHERE id = ?")) {
                    delete.setObject(1, nodeId);
                    delete.executeUpdate();
                } catch (SQLException e) {
                    log.debug("Could not delete this node's cluster row at stop: {}", e.toString());
                }
                closeQuietly(connection);
                connection = null;
            }
            held = EnumSet.noneOf(ClusterJob.class);
        } finally {
            session.unlock();
        }
    }

    private static void closeQuietly(Connection connection) {
        if (connection == null) {
            return;
        }
        try {
            connection.close();
        } catch (SQLException e) {
            // the session is gone either way, and with it the leases
        }
    }
}

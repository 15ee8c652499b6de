package dev.silo.backup.logical;

import dev.silo.platform.problem.Unavailable;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantService;
import dev.silo.tenant.TenantStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * The logical-backup jobs of a node: the catalog snapshot every minute, and the tenant backups spread over
 * {@code SILO_TENANT_BACKUP_HOURS}. The node's job scheduler calls {@link #runRound} once a minute on its platform
 * thread; backups run on a bounded pool of {@code SILO_BACKUP_CONCURRENCY} platform threads (compression and
 * encryption are CPU-heavy), and downloads on a second pool of the same size, so a download never waits behind the
 * nightly backups and never runs on a request's virtual thread.
 *
 * <p><b>Spreading.</b> Each tenant has a fixed offset within the interval (from its id, whole seconds); it is due
 * when its newest backup is older than the start of its current slot. So 1,000 tenants are backed up one after the
 * other across the day, not all at midnight; a tenant with no backup yet is due at once. Across nodes, a tenant's
 * backup holds a catalog advisory lock and checks the store again under it, so two nodes never back up the same
 * tenant for the same slot.
 */
public final class LogicalBackups implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LogicalBackups.class);
    private static final int ROUND_LOCK = 7215021;
    private static final int TENANT_LOCK_SPACE = 7215022;

    private final DataSource catalog;
    private final TenantService tenants;
    private final CatalogSnapshots catalogSnapshots;
    private final TenantBackups tenantBackups;
    private final Clock clock;
    private final Duration interval;
    private final ThreadPoolExecutor backups;
    private final ThreadPoolExecutor downloads;
    private final Set<UUID> inFlight = ConcurrentHashMap.newKeySet();

    private volatile boolean closing;

    public LogicalBackups(DataSource catalog, TenantService tenants, CatalogSnapshots catalogSnapshots, TenantBackups tenantBackups,
                          Clock clock, Duration interval, int concurrency) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.tenants = requireNonNull(tenants, "tenants is null");
        this.catalogSnapshots = requireNonNull(catalogSnapshots, "catalogSnapshots is null");
        this.tenantBackups = requireNonNull(tenantBackups, "tenantBackups is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.interval = requireNonNull(interval, "interval is null");
        this.backups = pool("silo-tenant-backups", concurrency, 10_000);
        this.downloads = pool("silo-backup-downloads", concurrency, 4 * concurrency);
    }

    private static ThreadPoolExecutor pool(String name, int threads, int queue) {
        return new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(queue),
                Thread.ofPlatform().daemon().name(name + "-", 1).factory());
    }

    public CatalogSnapshots catalogSnapshots() {
        return catalogSnapshots;
    }

    public TenantBackups tenantBackups() {
        return tenantBackups;
    }

    /** One minute's work, on one node at a time: the catalog snapshot, retention, and queueing the tenants due. */
    public void runRound() {
        try (Connection connection = catalog.getConnection()) {
            if (!advisory(connection, "SELECT pg_try_advisory_lock(?)", ROUND_LOCK)) {
                return;
            }
            try {
                catalogSnapshots.takeIfChanged();
                tenantBackups.deleteExpired();
                queueDue();
            } finally {
                advisory(connection, "SELECT pg_advisory_unlock(?)", ROUND_LOCK);
            }
        } catch (IOException | SQLException | RuntimeException e) {
            if (closing) {
                log.debug("Logical backup round ended by the stop: {}", e.toString());
            } else {
                log.warn("Logical backup round failed: {}", e.toString());
            }
        }
    }

    private void queueDue() throws IOException {
        Map<UUID, Instant> newest = tenantBackups.newest();
        Instant now = clock.instant();
        for (Tenant tenant : tenants.list(false)) {
            if (tenant.status() != TenantStatus.ACTIVE || inFlight.contains(tenant.id())) {
                continue;
            }
            Instant last = newest.get(tenant.id());
            if (last != null && !last.isBefore(slotStart(tenant.id(), now))) {
                continue;
            }
            inFlight.add(tenant.id());
            try {
                backups.execute(() -> backUpIfStillDue(tenant));
            } catch (RejectedExecutionException full) {
                inFlight.remove(tenant.id());
                return; // the next round queues the rest
            }
        }
    }

    /** The start of the tenant's current slot: its offset within the interval, plus whole intervals. */
    Instant slotStart(UUID tenantId, Instant now) {
        long intervalSeconds = interval.toSeconds();
        long offset = Math.floorMod(tenantId.getLeastSignificantBits(), intervalSeconds);
        long seconds = now.getEpochSecond();
        return Instant.ofEpochSecond(offset + intervalSeconds * Math.floorDiv(seconds - offset, intervalSeconds));
    }

    private void backUpIfStillDue(Tenant tenant) {
        try (Connection connection = catalog.getConnection()) {
            int key = tenant.id().hashCode();
            if (!advisory(connection, "SELECT pg_try_advisory_lock(" + TENANT_LOCK_SPACE + ", ?)", key)) {
                return;
            }
            try {
                Instant last = tenantBackups.newest().get(tenant.id());
                if (last == null || last.isBefore(slotStart(tenant.id(), clock.instant()))) {
                    tenantBackups.take(tenant);
                }
            } finally {
                advisory(connection, "SELECT pg_advisory_unlock(" + TENANT_LOCK_SPACE + ", ?)", key);
            }
        } catch (IOException | SQLException | RuntimeException e) {
            log.warn("Backup of tenant {} failed; it is retried next round: {}", tenant, e.toString());
        } finally {
            inFlight.remove(tenant.id());
        }
    }

    private static boolean advisory(Connection connection, String sql, int key) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setInt(1, key);
            try (ResultSet rs = statement.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /** Runs a download (decryption, decompression) on the download pool and waits; 503 when it is full. */
    public <T> T onDownloadPool(Callable<T> work) throws Exception {
        Future<T> future;
        try {
            future = downloads.submit(work);
        } catch (RejectedExecutionException full) {
            throw new Unavailable("backup-downloads-busy", "too many backup downloads are running; try again shortly",
                    Duration.ofSeconds(10));
        }
        try {
            return future.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    /**
     * Stops taking backups; one still running is interrupted and waited for (at most 30 s for both pools), so the
     * database it reads is not stopped under it.
     */
    @Override
    public void close() {
        closing = true;
        backups.shutdownNow();
        downloads.shutdownNow();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            if (!backups.awaitTermination(30, TimeUnit.SECONDS)
                    || !downloads.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                log.warn("Stopping with a tenant backup or download still running after 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

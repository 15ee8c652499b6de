package dev.silo.metrics;

import dev.silo.platform.db.Sql;
import dev.silo.tenant.TenantStatus;

import javax.sql.DataSource;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

import static java.util.Objects.requireNonNull;

/**
 * Tenants by status, read from the catalog at most once per {@link #MAX_AGE}: a scrape every few seconds (or several
 * scrapers) costs one small query per interval, not one per scrape. While the catalog cannot be read the last counts
 * stand (NaN before the first read).
 */
final class TenantCounts {
    static final Duration MAX_AGE = Duration.ofSeconds(15);
    private static final String COUNT_BY_STATUS = """
            SELECT status, count(*) FROM tenants GROUP BY status
            """;

    private final DataSource catalog;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile Map<TenantStatus, Long> counts;
    private volatile long attemptedAtNanos;
    private volatile boolean attempted;

    TenantCounts(DataSource catalog) {
        this.catalog = requireNonNull(catalog, "catalog is null");
    }

    /** Tenants with {@code status} as of at most {@link #MAX_AGE} ago; NaN when the catalog was never read. */
    double count(TenantStatus status) {
        Map<TenantStatus, Long> current = fresh();
        return current == null ? Double.NaN : current.getOrDefault(status, 0L);
    }

    private Map<TenantStatus, Long> fresh() {
        if (attempted && System.nanoTime() - attemptedAtNanos < MAX_AGE.toNanos()) {
            return counts;
        }
        // One reader refreshes; a concurrent scrape takes what is there.
        if (!lock.tryLock()) {
            return counts;
        }
        try {
            if (attempted && System.nanoTime() - attemptedAtNanos < MAX_AGE.toNanos()) {
                return counts;
            }
            counts = Sql.withConnection(catalog, connection -> {
                Map<TenantStatus, Long> read = new EnumMap<>(TenantStatus.class);
                try (PreparedStatement select = connection.prepareStatement(COUNT_BY_STATUS);
                     ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        read.put(TenantStatus.fromWire(rs.getString(1)), rs.getLong(2));
                    }
                }
                return read;
            });
        } catch (RuntimeException e) {
            // The catalog cannot be read: the last counts stand until the next attempt (readiness says what is wrong).
        } finally {
            attemptedAtNanos = System.nanoTime();
            attempted = true;
            lock.unlock();
        }
        return counts;
    }
}

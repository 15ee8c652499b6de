package dev.silo.metrics;

import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.backup.base.BaseBackupService;
import dev.silo.backup.drill.RestoreDrills;
import dev.silo.backup.wal.WalReceiver;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

import static java.util.Objects.requireNonNull;

/**
 * The backup figures, where this node runs them (embedded mode): WAL lag and receiver state from the receiver's
 * status (memory), the newest base backup's age from the store (listed at most once a minute: on S3 a listing is a
 * request), the last drill from the platform audit (cached by {@link RestoreDrills}). An unknown figure is NaN.
 */
final class BackupMeters {
    private static final Duration LISTING_MAX_AGE = Duration.ofMinutes(1);

    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile Optional<Instant> newestBaseBackup = Optional.empty();
    private volatile long listedAtNanos;
    private volatile boolean listed;

    private BackupMeters(Clock clock) {
        this.clock = requireNonNull(clock, "clock is null");
    }

    static void bind(MeterRegistry registry, Clock clock, Optional<WalReceiver> wal, Optional<BaseBackupService> baseBackups,
                     Optional<RestoreDrills> drills) {
        BackupMeters meters = new BackupMeters(clock);
        wal.ifPresent(receiver -> {
            Gauge.builder("silo.backup.wal.lag.seconds", () -> {
                        Double lag = receiver.status().lagSeconds();
                        return lag == null ? Double.NaN : lag;
                    })
                    .description("how long the oldest WAL flushed by PostgreSQL but not yet in the backup store has waited")
                    .register(registry);
            Gauge.builder("silo.backup.wal.receiver.connected", () -> receiver.status().connected() ? 1 : 0)
                    .description("1 while the WAL receiver streams from PostgreSQL, else 0").register(registry);
        });
        baseBackups.ifPresent(service -> Gauge.builder("silo.backup.base.last.age.seconds", () -> meters.baseBackupAge(service))
                .description("seconds since the newest complete base backup ended (NaN: none in the store)").register(registry));
        drills.ifPresent(service -> {
            Gauge.builder("silo.backup.drill.last.passed", () -> lastDrill(service)
                            .map(view -> "passed".equals(view.get("outcome")) ? 1.0 : 0.0).orElse(Double.NaN))
                    .description("the last restore drill: 1 passed, 0 failed (NaN: none recorded)").register(registry);
            Gauge.builder("silo.backup.drill.last.age.seconds", () -> lastDrill(service)
                            .map(view -> meters.secondsSince(String.valueOf(view.get("at")))).orElse(Double.NaN))
                    .description("seconds since the last restore drill was recorded (NaN: none)").register(registry);
        });
    }

    private double baseBackupAge(BaseBackupService service) {
        if (!listed || System.nanoTime() - listedAtNanos > LISTING_MAX_AGE.toNanos()) {
            if (lock.tryLock()) {
                try {
                    newestBaseBackup = service.newest().map(BaseBackupManifest::stopTime);
                } catch (IOException | RuntimeException e) {
                    // The store cannot be listed: the last answer stands until the next attempt.
                } finally {
                    listedAtNanos = System.nanoTime();
                    listed = true;
                    lock.unlock();
                }
            }
        }
        return newestBaseBackup.map(stop -> Duration.between(stop, clock.instant()).toMillis() / 1000.0).orElse(Double.NaN);
    }

    private double secondsSince(String instant) {
        try {
            return Duration.between(Instant.parse(instant), clock.instant()).toMillis() / 1000.0;
        } catch (RuntimeException e) {
            return Double.NaN;
        }
    }

    private static Optional<Map<String, Object>> lastDrill(RestoreDrills drills) {
        try {
            return drills.last();
        } catch (RuntimeException e) {
            return Optional.empty(); // the catalog cannot be read now
        }
    }
}

package dev.silo.backup.drill;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A {@code BackupHealth} check (issue 12.6): degraded when no base backup has completed in twice the scheduled
 * interval ({@code SILO_BASE_BACKUP_HOURS}), counted from the newest complete backup in the store or, when the store
 * has none, from the node's start (a fresh node takes its first backup within seconds; it is not degraded for it).
 * The store is listed at most once a minute: readiness is asked often, and listing an S3 prefix costs a request.
 */
public final class BaseBackupAge {
    private static final Duration CACHE = Duration.ofMinutes(1);

    /** When the newest complete base backup ended; empty when the store has none. */
    public interface Newest {
        Optional<Instant> stopTime() throws IOException;
    }

    private final Newest newest;
    private final Duration interval;
    private final Instant nodeStart;
    private final Clock clock;
    private volatile Optional<Instant> lastSeen = Optional.empty();
    private volatile Instant readAt;

    /** {@code interval} zero (no schedule): the check never reports anything. */
    public BaseBackupAge(Newest newest, Duration interval, Clock clock) {
        this.newest = requireNonNull(newest, "newest is null");
        this.interval = requireNonNull(interval, "interval is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.nodeStart = clock.instant();
    }

    public Optional<String> check() {
        if (interval.isZero()) {
            return Optional.empty();
        }
        Instant now = clock.instant();
        if (readAt == null || Duration.between(readAt, now).compareTo(CACHE) > 0 || readAt.isAfter(now)) {
            try {
                lastSeen = newest.stopTime();
            } catch (IOException e) {
                return Optional.of("cannot list the base backups in the backup store: " + e.getMessage());
            }
            readAt = now;
        }
        Duration limit = interval.multipliedBy(2);
        Instant since = lastSeen.orElse(nodeStart);
        if (since.plus(limit).isAfter(now)) {
            return Optional.empty();
        }
        return Optional.of(lastSeen.map(stop -> "no base backup in " + limit.toHours() + " h (twice SILO_BASE_BACKUP_HOURS): "
                + "the newest ended at " + stop).orElse("no base backup in the backup store, " + limit.toHours()
                + " h (twice SILO_BASE_BACKUP_HOURS) after the start"));
    }
}

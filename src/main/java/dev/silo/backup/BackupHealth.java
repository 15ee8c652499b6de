package dev.silo.backup;

import dev.silo.backup.wal.WalReceiver;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * What {@code /health/ready} says about backups (issue 12.6): degraded backups are reported in the readiness body,
 * never by failing readiness — a node that serves requests well must not be taken out of the load balancer because
 * its backup store is slow. Degraded means: WAL waiting longer than {@link #MAX_LAG} to reach the store, the WAL
 * receiver disconnected for longer than that, or the replication slot near its {@code max_slot_wal_keep_size}
 * bound (or past it); further checks (base backup age, the last drill) are added with {@link #add}.
 */
public final class BackupHealth {
    public static final Duration MAX_LAG = Duration.ofSeconds(60);

    private final Supplier<Optional<WalReceiver.Status>> receiver;
    private final Clock clock;
    private final List<Supplier<Optional<String>>> checks = new CopyOnWriteArrayList<>();
    private volatile Instant disconnectedSince;

    /** @param receiver the WAL receiver's status, empty where none runs (external mode) */
    public BackupHealth(Supplier<Optional<WalReceiver.Status>> receiver, Clock clock) {
        this.receiver = requireNonNull(receiver, "receiver is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** A further check: empty when fine, else one sentence saying what is wrong. */
    public void add(Supplier<Optional<String>> check) {
        checks.add(requireNonNull(check, "check is null"));
    }

    /** Every current reason backups are degraded, one sentence each; empty when they are fine. */
    public List<String> degraded() {
        List<String> reasons = new ArrayList<>();
        receiver.get().ifPresent(status -> walReasons(status, reasons));
        for (Supplier<Optional<String>> check : checks) {
            try {
                check.get().ifPresent(reasons::add);
            } catch (RuntimeException e) {
                reasons.add("a backup check failed: " + e.getMessage());
            }
        }
        return List.copyOf(reasons);
    }

    private void walReasons(WalReceiver.Status status, List<String> reasons) {
        Instant now = clock.instant();
        if (status.running() && !status.connected()) {
            Instant since = disconnectedSince;
            if (since == null) {
                disconnectedSince = since = now;
            }
            if (Duration.between(since, now).compareTo(MAX_LAG) > 0) {
                reasons.add("the WAL receiver has not been streaming for " + Duration.between(since, now).toSeconds() + " s"
                        + (status.lastError() == null ? "" : " (" + status.lastError() + ")"));
            }
        } else {
            disconnectedSince = null;
        }
        if (!status.running()) {
            reasons.add("the WAL receiver is stopped");
        }
        Double lag = status.lagSeconds();
        if (lag != null && lag > MAX_LAG.toSeconds()) {
            reasons.add(String.format(Locale.ROOT, "WAL lag %.0f s (over %d s): recent writes are not in the backup store yet",
                    lag, MAX_LAG.toSeconds()));
        }
        if ("suspended".equals(status.synchronous())) {
            reasons.add("SILO_BACKUP_SYNCHRONOUS is on but suspended: commits run asynchronous until the receiver catches up"
                    + (status.lastError() == null ? "" : " (" + status.lastError() + ")"));
        }
        String slot = status.slotWalStatus();
        if ("unreserved".equals(slot)) {
            reasons.add("the replication slot is near its SILO_WAL_KEEP_MB bound: WAL past it will be lost to the backups");
        } else if ("lost".equals(slot)) {
            reasons.add("the replication slot lost WAL (SILO_WAL_KEEP_MB exceeded): take a base backup now");
        }
    }
}

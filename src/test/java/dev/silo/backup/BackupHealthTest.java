package dev.silo.backup;

import dev.silo.backup.wal.WalReceiver;
import dev.silo.testing.TestingClock;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** What readiness says about backups: reasons in the body, from the receiver's status and the added checks. */
class BackupHealthTest {
    private final TestingClock clock = new TestingClock();
    private final AtomicReference<WalReceiver.Status> status = new AtomicReference<>(streaming(0.4, "reserved"));
    private final BackupHealth health = new BackupHealth(() -> Optional.of(status.get()), clock);

    private static WalReceiver.Status streaming(double lagSeconds, String slot) {
        return new WalReceiver.Status(true, true, 1, "0/3000148", Instant.now(), "0/3000148", "0/3000148", 0L, lagSeconds,
                slot, 1L << 30, "file:///store", null, null, "off");
    }

    private static WalReceiver.Status disconnected(String error) {
        return new WalReceiver.Status(true, false, 1, "0/3000148", Instant.now(), "0/3000000", "0/3000148", 328L, 2.0,
                "reserved", 1L << 30, "file:///store", error, Instant.now(), "off");
    }

    @Test
    void aStreamingReceiverWithLittleLagIsFine() {
        assertThat(health.degraded()).isEmpty();
        assertThat(new BackupHealth(Optional::empty, clock).degraded()).isEmpty();
    }

    @Test
    void lagOverAMinuteIsReported() {
        status.set(streaming(75, "reserved"));
        assertThat(health.degraded()).singleElement().asString().contains("WAL lag 75 s").contains("over 60 s");
    }

    @Test
    void aReceiverDisconnectedForOverAMinuteIsReportedWithItsLastErrorAndForgottenOnceItStreamsAgain() {
        status.set(disconnected("the backup store is unreachable: connection refused"));
        assertThat(health.degraded()).isEmpty();
        clock.advance(Duration.ofSeconds(61));
        assertThat(health.degraded()).singleElement().asString()
                .contains("not been streaming for 61 s").contains("connection refused");
        status.set(streaming(0.2, "reserved"));
        assertThat(health.degraded()).isEmpty();
        status.set(disconnected("again"));
        assertThat(health.degraded()).as("a new outage starts a new minute").isEmpty();
    }

    @Test
    void aSlotNearOrPastItsBoundIsReported() {
        status.set(streaming(0.1, "unreserved"));
        assertThat(health.degraded()).singleElement().asString().contains("SILO_WAL_KEEP_MB");
        status.set(streaming(0.1, "lost"));
        assertThat(health.degraded()).singleElement().asString().contains("lost WAL");
    }

    @Test
    void synchronousModeSuspendedIsReported() {
        WalReceiver.Status streaming = streaming(0.1, "reserved");
        status.set(new WalReceiver.Status(true, true, 1, "0/3000148", Instant.now(), "0/3000148", "0/3000148", 0L, 0.1,
                "reserved", 1L << 30, "file:///store", "commits waited 10 s", Instant.now(), "suspended"));
        assertThat(health.degraded()).singleElement().asString().contains("SILO_BACKUP_SYNCHRONOUS").contains("asynchronous");
        status.set(streaming);
        assertThat(health.degraded()).isEmpty();
    }

    @Test
    void addedChecksAreListedAndOneThatThrowsIsReportedNotPropagated() {
        health.add(() -> Optional.of("no base backup for 49 h (every 24 h expected)"));
        health.add(() -> {
            throw new IllegalStateException("store listing failed");
        });
        assertThat(health.degraded()).containsExactly("no base backup for 49 h (every 24 h expected)",
                "a backup check failed: store listing failed");
    }
}

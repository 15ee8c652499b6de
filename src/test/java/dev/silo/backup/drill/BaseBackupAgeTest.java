package dev.silo.backup.drill;

import dev.silo.testing.TestingClock;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** Readiness says so when no base backup completed in twice SILO_BASE_BACKUP_HOURS (issue 12.6). */
class BaseBackupAgeTest {
    private final TestingClock clock = new TestingClock();
    private final AtomicReference<Optional<Instant>> newest = new AtomicReference<>(Optional.empty());
    private final BaseBackupAge age = new BaseBackupAge(newest::get, Duration.ofHours(24), clock);

    @Test
    void aFreshNodeWithNoBackupYetIsFineUntilTwiceTheIntervalHasPassed() {
        assertThat(age.check()).isEmpty();
        clock.advance(Duration.ofHours(47));
        assertThat(age.check()).isEmpty();
        clock.advance(Duration.ofHours(2));
        assertThat(age.check()).get().asString().contains("no base backup in the backup store").contains("48 h");
    }

    @Test
    void aBackupOlderThanTwiceTheIntervalIsReportedAndANewOneClearsIt() {
        newest.set(Optional.of(clock.instant()));
        clock.advance(Duration.ofHours(49));
        assertThat(age.check()).get().asString().contains("no base backup in 48 h").contains("the newest ended at");
        newest.set(Optional.of(clock.instant()));
        clock.advance(Duration.ofMinutes(2)); // the store is listed again after a minute
        assertThat(age.check()).isEmpty();
    }

    @Test
    void noScheduleMeansNoCheckAndAnUnreadableStoreIsSaid() {
        BaseBackupAge unscheduled = new BaseBackupAge(newest::get, Duration.ZERO, clock);
        clock.advance(Duration.ofDays(30));
        assertThat(unscheduled.check()).isEmpty();
        BaseBackupAge unreadable = new BaseBackupAge(() -> {
            throw new IOException("connection refused");
        }, Duration.ofHours(24), clock);
        assertThat(unreadable.check()).get().asString().contains("cannot list the base backups").contains("connection refused");
    }
}

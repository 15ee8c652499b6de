package dev.silo.backup.logical;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Which catalog snapshots to keep: every one of the last hour; then the newest of each hour for the last day; then
 * the newest of each day (UTC) up to the retention ({@code SILO_BACKUP_RETENTION_DAYS}); nothing older. At most
 * about 60 + 24 + days objects, whatever the rate of change, and a restore point at least every hour for a day.
 */
final class CatalogRetention {
    private CatalogRetention() {}

    /** The times among {@code taken} to delete, at {@code now}. */
    static List<Instant> toDelete(List<Instant> taken, Instant now, int retentionDays) {
        List<Instant> newestFirst = new ArrayList<>(taken);
        newestFirst.sort(Comparator.reverseOrder());
        Set<Instant> hours = new HashSet<>();
        Set<Instant> days = new HashSet<>();
        List<Instant> delete = new ArrayList<>();
        for (Instant time : newestFirst) {
            Duration age = Duration.between(time, now);
            boolean keep;
            if (age.compareTo(Duration.ofHours(1)) <= 0) {
                keep = true;
            } else if (age.compareTo(Duration.ofDays(1)) <= 0) {
                keep = hours.add(time.truncatedTo(ChronoUnit.HOURS));
            } else if (age.compareTo(Duration.ofDays(retentionDays)) <= 0) {
                keep = days.add(time.truncatedTo(ChronoUnit.DAYS));
            } else {
                keep = false;
            }
            if (!keep) {
                delete.add(time);
            }
        }
        return delete;
    }
}

package dev.silo.backup.logical;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/** Times in object names and backup ids: {@code 20261202T150512Z} (UTC, to the second; sorts as it reads). */
final class BackupTimes {
    private static final DateTimeFormatter FORMAT = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private BackupTimes() {}

    static String format(Instant time) {
        return FORMAT.format(time.truncatedTo(ChronoUnit.SECONDS));
    }

    static Optional<Instant> parse(String text) {
        try {
            return Optional.of(Instant.from(FORMAT.parse(text)));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }

    /** An id or name part between {@code prefix} and {@code suffix}, as a time. */
    static Optional<Instant> between(String name, String prefix, String suffix) {
        if (!name.startsWith(prefix) || !name.endsWith(suffix) || name.length() < prefix.length() + suffix.length()) {
            return Optional.empty();
        }
        return parse(name.substring(prefix.length(), name.length() - suffix.length()));
    }
}

package dev.silo.backup.base;

import java.util.Locale;

/** PostgreSQL's text form of a WAL position, {@code 16/B374D848}: high and low 32 bits in hex. */
public final class Lsn {
    private Lsn() {}

    public static long parse(String text) {
        int slash = text == null ? -1 : text.indexOf('/');
        if (slash <= 0) {
            throw new IllegalArgumentException("not an LSN: " + text);
        }
        return (Long.parseLong(text.substring(0, slash), 16) << 32) + Long.parseLong(text.substring(slash + 1), 16);
    }

    public static String format(long lsn) {
        return String.format(Locale.ROOT, "%X/%X", lsn >>> 32, lsn & 0xFFFFFFFFL);
    }
}

package dev.silo.backup.wal;

import dev.silo.backup.BackupStore;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names and positions of WAL segments in the backup store, the way PostgreSQL names them in {@code pg_wal}:
 * {@code wal/TTTTTTTTLLLLLLLLSSSSSSSS} (timeline, log, segment in hex) for a whole segment and the same name with
 * {@code .partial} for the one being filled.
 */
public final class WalSegments {
    /** The server's {@code wal_segment_size}; initdb's default, which Silo never changes. */
    public static final int SEGMENT_SIZE = 16 * 1024 * 1024;
    public static final String PREFIX = "wal/";
    public static final String PARTIAL_SUFFIX = ".partial";
    private static final Pattern NAME = Pattern.compile("wal/([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\\.partial)?");

    private WalSegments() {}

    /** One WAL object in the store. */
    public record Segment(int timeline, long startLsn, boolean partial, long size) {
        public long endLsn() {
            return startLsn + size;
        }

        public String name() {
            return WalSegments.name(timeline, startLsn) + (partial ? PARTIAL_SUFFIX : "");
        }
    }

    /** What the store holds: its whole segments in order, and the partial one after them if any. */
    public record Contents(List<Segment> complete, Optional<Segment> partial) {
        /** The LSN up to which the store holds WAL with no gap from its first segment; empty when it holds none. */
        public Optional<Long> end() {
            if (partial.isPresent()) {
                return Optional.of(partial.get().endLsn());
            }
            return complete.isEmpty() ? Optional.empty() : Optional.of(complete.getLast().endLsn());
        }

        /** The first LSN missing between two stored segments, or empty when they follow one another. */
        public Optional<Long> firstGap() {
            for (int i = 1; i < complete.size(); i++) {
                if (complete.get(i).startLsn() != complete.get(i - 1).endLsn()) {
                    return Optional.of(complete.get(i - 1).endLsn());
                }
            }
            if (partial.isPresent() && !complete.isEmpty() && partial.get().startLsn() != complete.getLast().endLsn()) {
                return Optional.of(complete.getLast().endLsn());
            }
            return Optional.empty();
        }

        public long bytes() {
            return complete.stream().mapToLong(Segment::size).sum() + partial.map(Segment::size).orElse(0L);
        }
    }

    public static String name(int timeline, long lsn) {
        long segmentNumber = Long.divideUnsigned(lsn, SEGMENT_SIZE);
        long segmentsPerLog = 0x1_0000_0000L / SEGMENT_SIZE;
        return String.format(Locale.ROOT, "%s%08X%08X%08X", PREFIX, timeline, segmentNumber / segmentsPerLog,
                segmentNumber % segmentsPerLog);
    }

    public static long segmentStart(long lsn) {
        return lsn - Long.remainderUnsigned(lsn, SEGMENT_SIZE);
    }

    /** Parses a store object name; empty for names that are not WAL segments (temporary files, other objects). */
    public static Optional<Segment> parse(BackupStore.StoredObject object) {
        Matcher matcher = NAME.matcher(object.name());
        if (!matcher.matches()) {
            return Optional.empty();
        }
        int timeline = Integer.parseUnsignedInt(matcher.group(1), 16);
        long log = Long.parseLong(matcher.group(2), 16);
        long segment = Long.parseLong(matcher.group(3), 16);
        long start = (log << 32) + segment * SEGMENT_SIZE;
        return Optional.of(new Segment(timeline, start, matcher.group(4) != null, object.size()));
    }

    /**
     * Reads the store's WAL listing. A partial segment counts only when it is beyond the last whole segment (a
     * partial left behind by a crash between putting the whole segment and deleting the partial is stale).
     *
     * <p>Sizes are of the WAL itself, not of the stored objects: behind the encrypting store a listing gives the size
     * of the compressed ciphertext. A whole segment holds {@link #SEGMENT_SIZE} bytes by definition (only whole ones
     * get that name); the one partial segment that counts is read to learn how much WAL it holds.
     */
    public static Contents read(BackupStore store) throws IOException {
        List<Segment> complete = new ArrayList<>();
        List<Segment> partials = new ArrayList<>();
        for (BackupStore.StoredObject object : store.list(PREFIX)) {
            parse(object).ifPresent(segment -> {
                if (segment.partial()) {
                    partials.add(segment);
                } else {
                    complete.add(new Segment(segment.timeline(), segment.startLsn(), false, SEGMENT_SIZE));
                }
            });
        }
        complete.sort(java.util.Comparator.comparingLong(Segment::startLsn));
        long completeEnd = complete.isEmpty() ? Long.MIN_VALUE : complete.getLast().endLsn();
        Optional<Segment> listed = partials.stream()
                .filter(segment -> Long.compareUnsigned(segment.startLsn(), completeEnd) >= 0 || completeEnd == Long.MIN_VALUE)
                .max(java.util.Comparator.comparingLong(Segment::startLsn));
        Optional<Segment> partial = Optional.empty();
        if (listed.isPresent()) {
            Segment segment = listed.get();
            Optional<java.io.InputStream> content = store.get(segment.name());
            if (content.isPresent()) {
                long size;
                try (java.io.InputStream in = content.get()) {
                    size = in.transferTo(java.io.OutputStream.nullOutputStream());
                }
                partial = Optional.of(new Segment(segment.timeline(), segment.startLsn(), true, size));
            }
        }
        return new Contents(List.copyOf(complete), partial);
    }

    public static String format(long lsn) {
        return String.format(Locale.ROOT, "%X/%X", lsn >>> 32, lsn & 0xFFFFFFFFL);
    }
}

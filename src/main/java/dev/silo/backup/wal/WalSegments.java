package dev.silo.backup.wal;

import dev.silo.backup.BackupStore;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Names and positions of WAL segments in the backup store, the way PostgreSQL names them in {@code pg_wal}:
 * {@code wal/TTTTTTTTLLLLLLLLSSSSSSSS} (timeline, log, segment in hex) for a whole segment. The segment being filled
 * is stored as pieces, {@code wal/<segment>.partial.<from>-<to>} (byte offsets in the segment, 8 hex digits), each
 * holding only the bytes received since the previous piece, so keeping the store within a second of the server costs
 * one small put rather than re-putting the whole partial segment; once the segment is complete it is put whole and
 * its pieces deleted. (A single {@code wal/<segment>.partial} from older versions counts as the piece from 0.)
 */
public final class WalSegments {
    /** The server's {@code wal_segment_size}; initdb's default, which Silo never changes. */
    public static final int SEGMENT_SIZE = 16 * 1024 * 1024;
    public static final String PREFIX = "wal/";
    public static final String PARTIAL_SUFFIX = ".partial";
    private static final Pattern NAME = Pattern.compile("wal/([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\\.partial)?");
    private static final Pattern PIECE = Pattern.compile(
            "(wal/[0-9A-F]{8}[0-9A-F]{8}[0-9A-F]{8})\\.partial\\.([0-9A-F]{8})-([0-9A-F]{8})");

    private WalSegments() {}

    /**
     * A whole WAL segment in the store, or the partial one: then {@code size} is how many bytes its pieces hold
     * contiguously from the segment's start, and {@link #name()} is the logical {@code wal/<segment>.partial} (read
     * its bytes with {@link #readPartial}).
     */
    public record Segment(int timeline, long startLsn, boolean partial, long size) {
        public long endLsn() {
            return startLsn + size;
        }

        public String name() {
            return WalSegments.name(timeline, startLsn) + (partial ? PARTIAL_SUFFIX : "");
        }
    }

    /** One stored piece of a partial segment: bytes {@code [from, to)} of the segment, {@code to < 0} when unknown (legacy). */
    record Piece(String object, int timeline, long segmentStart, int from, int to) {}

    /** The current partial segment's bytes, contiguous from the segment's start ({@code startLsn}). */
    public record Partial(int timeline, long startLsn, byte[] bytes) {
        public Partial {
            requireNonNull(bytes, "bytes is null");
        }

        public long endLsn() {
            return startLsn + bytes.length;
        }
    }

    /** Piece object name for bytes {@code [from, to)} of the segment holding {@code segmentStart}. */
    public static String pieceName(int timeline, long segmentStart, int from, int to) {
        return String.format(Locale.ROOT, "%s%s.%08X-%08X", name(timeline, segmentStart), PARTIAL_SUFFIX, from, to);
    }

    /** Parses a partial segment's piece (or a legacy whole {@code .partial}); empty for anything else. */
    static Optional<Piece> parsePiece(BackupStore.StoredObject object) {
        Matcher piece = PIECE.matcher(object.name());
        if (piece.matches()) {
            Optional<Segment> segment = parse(new BackupStore.StoredObject(piece.group(1), 0));
            int from = Integer.parseUnsignedInt(piece.group(2), 16);
            int to = Integer.parseUnsignedInt(piece.group(3), 16);
            if (segment.isEmpty() || from >= to || to > SEGMENT_SIZE) {
                return Optional.empty();
            }
            return Optional.of(new Piece(object.name(), segment.get().timeline(), segment.get().startLsn(), from, to));
        }
        return parse(object).filter(Segment::partial)
                .map(segment -> new Piece(object.name(), segment.timeline(), segment.startLsn(), 0, -1));
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
        Listing listing = list(store);
        Optional<Segment> partial = Optional.empty();
        if (!listing.pieces().isEmpty()) {
            Piece first = listing.pieces().getFirst();
            long size = contiguous(store, listing.pieces(), null);
            if (size > 0) {
                partial = Optional.of(new Segment(first.timeline(), first.segmentStart(), true, size));
            }
        }
        return new Contents(listing.complete(), partial);
    }

    /**
     * The bytes of the current partial segment (the one beyond the last whole segment), contiguous from its start,
     * with its start LSN; empty when the store holds none. For a restore: write them as {@code pg_wal/<segment>}
     * padded with zeros to {@link #SEGMENT_SIZE}, or hand them to {@code restore_command} as the last segment.
     * Pieces left behind next to a whole segment, or of an older segment than the newest one with pieces, are stale
     * and ignored (see {@link #read}).
     */
    public static Optional<Partial> readPartial(BackupStore store) throws IOException {
        Listing listing = list(store);
        if (listing.pieces().isEmpty()) {
            return Optional.empty();
        }
        byte[] buffer = new byte[SEGMENT_SIZE];
        int size = (int) contiguous(store, listing.pieces(), buffer);
        if (size == 0) {
            return Optional.empty();
        }
        Piece first = listing.pieces().getFirst();
        return Optional.of(new Partial(first.timeline(), first.segmentStart(), java.util.Arrays.copyOf(buffer, size)));
    }

    /**
     * When the newest WAL object (a whole segment or a piece) was put into the store: no WAL the store holds was
     * written by the server after that, so no commit in it is newer (up to the clocks of the server and the store).
     * Empty when the store holds no WAL or does not say when one of its WAL objects was stored.
     */
    public static Optional<java.time.Instant> newestStoredAt(BackupStore store) throws IOException {
        java.time.Instant newest = null;
        for (BackupStore.StoredObject object : store.list(PREFIX)) {
            if (parse(object).isEmpty() && parsePiece(object).isEmpty()) {
                continue;
            }
            if (object.storedAt().isEmpty()) {
                return Optional.empty();
            }
            if (newest == null || object.storedAt().get().isAfter(newest)) {
                newest = object.storedAt().get();
            }
        }
        return Optional.ofNullable(newest);
    }

    /** The names of every partial-segment object (pieces) of the segment holding {@code segmentStart}, stale or not. */
    static List<String> pieceObjects(BackupStore store, long segmentStart) throws IOException {
        List<String> names = new ArrayList<>();
        for (BackupStore.StoredObject object : store.list(PREFIX)) {
            parsePiece(object).filter(piece -> piece.segmentStart() == segmentStart).ifPresent(piece -> names.add(piece.object()));
        }
        return names;
    }

    /** Every partial-segment object of any segment other than {@code segmentStart}: left behind, safe to delete. */
    static List<String> stalePieceObjects(BackupStore store, long segmentStart) throws IOException {
        List<String> names = new ArrayList<>();
        for (BackupStore.StoredObject object : store.list(PREFIX)) {
            parsePiece(object).filter(piece -> piece.segmentStart() != segmentStart).ifPresent(piece -> names.add(piece.object()));
        }
        return names;
    }

    private record Listing(List<Segment> complete, List<Piece> pieces) {}

    /** Whole segments in order, and the pieces of the one partial segment that counts (the newest beyond them). */
    private static Listing list(BackupStore store) throws IOException {
        List<Segment> complete = new ArrayList<>();
        List<Piece> pieces = new ArrayList<>();
        for (BackupStore.StoredObject object : store.list(PREFIX)) {
            Optional<Piece> piece = parsePiece(object);
            if (piece.isPresent()) {
                pieces.add(piece.get());
                continue;
            }
            parse(object).filter(segment -> !segment.partial())
                    .ifPresent(segment -> complete.add(new Segment(segment.timeline(), segment.startLsn(), false, SEGMENT_SIZE)));
        }
        complete.sort(java.util.Comparator.comparingLong(Segment::startLsn));
        long completeEnd = complete.isEmpty() ? Long.MIN_VALUE : complete.getLast().endLsn();
        Optional<Long> current = pieces.stream().map(Piece::segmentStart)
                .filter(start -> completeEnd == Long.MIN_VALUE || Long.compareUnsigned(start, completeEnd) >= 0)
                .max(Long::compareUnsigned);
        List<Piece> counted = current.isEmpty() ? List.of() : pieces.stream()
                .filter(piece -> piece.segmentStart() == current.get())
                .sorted(java.util.Comparator.comparingInt(Piece::from)).toList();
        return new Listing(List.copyOf(complete), counted);
    }

    /**
     * How many bytes the pieces hold with no gap from offset 0 (overlaps allowed: a put retried after it had in fact
     * succeeded); copies them into {@code buffer} when it is not null. Only legacy pieces of unknown length are read
     * to learn the size.
     */
    private static long contiguous(BackupStore store, List<Piece> pieces, byte[] buffer) throws IOException {
        int position = 0;
        boolean advanced = true;
        while (advanced) {
            advanced = false;
            Piece best = null;
            int bestTo = position;
            byte[] bestBytes = null;
            for (Piece piece : pieces) {
                if (piece.from() > position) {
                    continue;
                }
                int to = piece.to();
                byte[] bytes = null;
                if (to < 0 || buffer != null) {
                    if (to >= 0 && to <= bestTo) {
                        continue;
                    }
                    bytes = readObject(store, piece.object());
                    if (bytes == null) {
                        continue;
                    }
                    if (to >= 0 && bytes.length != to - piece.from()) {
                        throw new IOException("the WAL piece " + piece.object() + " holds " + bytes.length
                                + " bytes, its name says " + (to - piece.from()));
                    }
                    to = piece.from() + bytes.length;
                }
                if (to > bestTo) {
                    best = piece;
                    bestTo = to;
                    bestBytes = bytes;
                }
            }
            if (best != null) {
                if (buffer != null) {
                    System.arraycopy(bestBytes, position - best.from(), buffer, position, bestTo - position);
                }
                position = bestTo;
                advanced = true;
            }
        }
        return position;
    }

    private static byte[] readObject(BackupStore store, String name) throws IOException {
        Optional<java.io.InputStream> content = store.get(name);
        if (content.isEmpty()) {
            return null;
        }
        try (java.io.InputStream in = content.get()) {
            return in.readAllBytes();
        }
    }

    public static String format(long lsn) {
        return String.format(Locale.ROOT, "%X/%X", lsn >>> 32, lsn & 0xFFFFFFFFL);
    }
}

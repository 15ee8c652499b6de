package dev.silo.audit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;

import static java.util.Objects.requireNonNull;

/**
 * Checkpoints of the audit chains kept outside the database, so that a database superuser who cuts or rewrites
 * a log is caught by {@code verify}: an append-only file in the data directory ({@value #FILE_NAME}), one line
 * per checkpoint, each carrying an HMAC under a key derived from the master key (so a forged or edited line is
 * recognised), and the same line on the {@code app} log stream (which, shipped off the machine, is the anchor
 * where the data directory does not survive, as on Heroku).
 *
 * <p>A line is {@code v1 LOG SEQ HEAD LEGACY_UNTIL TIME MAC}: the log ({@code platform} or {@code tenant:<id>}),
 * its last sequence number and hash at that time, the number of leading entries chained with plain SHA-256
 * (entries written before keyed chains), and the HMAC of everything before it.
 */
public final class AuditAnchors {
    public static final String FILE_NAME = "audit-checkpoints";
    private static final Logger log = LoggerFactory.getLogger(AuditAnchors.class);

    /** One checkpoint of one log. */
    public record Anchor(String log, long seq, String hash, long legacyUntil, Instant at) {
        public Anchor {
            requireNonNull(log, "log is null");
            requireNonNull(hash, "hash is null");
            requireNonNull(at, "at is null");
            if (log.isEmpty() || log.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("a log name has no spaces: " + log);
            }
        }

        String text() {
            return "v1 " + log + " " + seq + " " + hash + " " + legacyUntil + " " + at;
        }
    }

    /** The anchors of one log, and how many lines of the file failed their HMAC (edited or forged lines). */
    public record Anchors(List<Anchor> anchors, int forgedLines) {}

    private final Optional<Path> file;
    private final AuditKeys keys;
    private final ReentrantLock lock = new ReentrantLock();
    private final ConcurrentMap<String, Anchor> lastWritten = new ConcurrentHashMap<>();

    /** {@code dataDir} empty: no file (the log stream is then the only anchor). */
    public AuditAnchors(Optional<Path> dataDir, AuditKeys keys) {
        this.file = requireNonNull(dataDir, "dataDir is null").map(dir -> dir.resolve(FILE_NAME));
        this.keys = requireNonNull(keys, "keys is null");
    }

    public Optional<Path> file() {
        return file;
    }

    /** The keys the chains and these checkpoints are made with. */
    public AuditKeys keys() {
        return keys;
    }

    /**
     * Records a checkpoint, unless the last one this process wrote for the log says the same: appended and
     * forced to disk, and logged on the app stream.
     */
    public void write(Anchor anchor) {
        requireNonNull(anchor, "anchor is null");
        Anchor previous = lastWritten.get(anchor.log());
        if (previous != null && previous.seq() == anchor.seq() && previous.hash().equals(anchor.hash())) {
            return;
        }
        String line = anchor.text() + " " + mac(anchor.text());
        lock.lock();
        try {
            if (file.isPresent()) {
                Path path = file.get();
                if (!Files.exists(path)) {
                    Files.createDirectories(path.getParent());
                    Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                }
                try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                    channel.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
                    channel.force(true);
                }
            }
            lastWritten.put(anchor.log(), anchor);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to the audit checkpoint file " + file.orElseThrow(), e);
        } finally {
            lock.unlock();
        }
        log.info("Audit checkpoint: {}", line);
    }

    /**
     * Checkpoints the head of one log, if it moved and still continues the last checkpoint; if it does not (an entry
     * was rewritten or removed since), nothing is written and an error goes to the app log stream, so a rewritten
     * log is never anchored. Returns false in that case.
     */
    boolean checkpoint(java.sql.Connection connection, String table, String logName, byte[] key, HashChain.Fields fields,
                       HashChain.PlainPrefixes plainPrefixes, Instant now) throws java.sql.SQLException {
        HashChain.Head head = HashChain.head(connection, table);
        Optional<Anchor> last = last(logName);
        if (last.isPresent() && last.get().seq() == head.seq() && last.get().hash().equals(head.hash())) {
            return true;
        }
        if (last.isPresent()) {
            Optional<String> problem = HashChain.continuesFrom(connection, table, last.get(), key, fields);
            if (problem.isPresent()) {
                log.error("Audit log {} was tampered with: {}; no checkpoint is written until it is repaired "
                        + "(silo audit verify shows the details)", logName, problem.get());
                return false;
            }
        }
        long plain = plainPrefixes.of(connection, table, logName, key, head, fields);
        write(new Anchor(logName, head.seq(), head.hash(), plain, now));
        return true;
    }

    /** The newest checkpoint of a log: the one this process wrote last, else the file's last line for it. */
    public Optional<Anchor> last(String logName) {
        Anchor known = lastWritten.get(logName);
        if (known != null) {
            return Optional.of(known);
        }
        List<Anchor> all = read(logName).anchors();
        if (all.isEmpty()) {
            return Optional.empty();
        }
        lastWritten.putIfAbsent(logName, all.getLast());
        return Optional.of(lastWritten.get(logName));
    }

    /** Every anchor of {@code logName} in the file, oldest first; lines whose HMAC fails are counted, not used. */
    public Anchors read(String logName) {
        requireNonNull(logName, "logName is null");
        if (file.isEmpty()) {
            return new Anchors(List.of(), 0);
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file.get(), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return new Anchors(List.of(), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the audit checkpoint file " + file.get(), e);
        }
        List<Anchor> anchors = new ArrayList<>();
        int forged = 0;
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.split(" ");
            Optional<Anchor> anchor = parts.length == 7 && parts[0].equals("v1") ? parse(parts) : Optional.empty();
            if (anchor.isEmpty() || !MessageDigest.isEqual(mac(anchor.get().text()).getBytes(StandardCharsets.US_ASCII),
                    parts[6].getBytes(StandardCharsets.US_ASCII))) {
                forged++;
                continue;
            }
            if (anchor.get().log().equals(logName)) {
                anchors.add(anchor.get());
            }
        }
        return new Anchors(anchors, forged);
    }

    private static Optional<Anchor> parse(String[] parts) {
        try {
            return Optional.of(new Anchor(parts[1], Long.parseLong(parts[2]), parts[3], Long.parseLong(parts[4]), Instant.parse(parts[5])));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    private String mac(String text) {
        return HashChain.keyedLink(keys.checkpoints(), "audit-checkpoint", text);
    }
}

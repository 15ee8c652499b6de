package dev.silo.backup;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where backups live: a flat namespace of immutable objects named like relative paths ({@code wal/000000010000000000000003},
 * {@code base/20261202T054400Z/manifest.json}). Implementations: a local folder ({@link FileBackupStore}, the
 * default {@code <data dir>/backups/store}) and an S3-compatible bucket; an encrypting decorator sits in front of either, so
 * the store itself never sees plaintext.
 *
 * <p>Contract every implementation keeps: {@link #put} is atomic (a reader sees the whole object or none, even after a
 * crash in the middle of a write) and durable when it returns; an object is replaced whole; {@link #list} returns
 * names in lexicographic order. Names are checked by {@link #checkName}: ASCII letters, digits, {@code . _ -} and
 * {@code /} between non-empty segments, never {@code .} or {@code ..} as a segment, at most 512 characters.
 */
public interface BackupStore extends AutoCloseable {
    Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*");

    /** Writes {@code content} (read to its end, not closed) as object {@code name}, replacing any object of that name. */
    void put(String name, InputStream content) throws IOException;

    /** The object's bytes, or empty when there is no such object. The caller closes the stream. */
    Optional<InputStream> get(String name) throws IOException;

    /** The objects whose names start with {@code prefix} ({@code ""} for all), in name order. */
    List<StoredObject> list(String prefix) throws IOException;

    /** Deletes the object; deleting one that does not exist is not an error. */
    void delete(String name) throws IOException;

    /** Where this store is, for status lines and logs: never a credential. */
    String describe();

    @Override
    default void close() throws IOException {}

    /**
     * One object of a listing.
     *
     * @param storedAt when the object was written, as the store keeps it (a file's modification time, S3's
     *                 {@code LastModified}); empty when the store does not say
     */
    record StoredObject(String name, long size, Optional<Instant> storedAt) {
        public StoredObject {
            checkName(name);
            if (size < 0) {
                throw new IllegalArgumentException("size must not be negative, got " + size);
            }
            java.util.Objects.requireNonNull(storedAt, "storedAt is null");
        }

        public StoredObject(String name, long size) {
            this(name, size, Optional.empty());
        }
    }

    /** @throws IllegalArgumentException when {@code name} is not a valid object name (the message says why) */
    static String checkName(String name) {
        if (name == null || name.isEmpty() || name.length() > 512 || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("invalid backup object name '" + name
                    + "': expected segments of [A-Za-z0-9_.-] separated by '/', at most 512 characters");
        }
        for (String segment : name.split("/")) {
            if (segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("invalid backup object name '" + name + "': '.' and '..' are not segments");
            }
        }
        return name;
    }

    /** @throws IllegalArgumentException when {@code prefix} is neither empty nor the start of a valid name */
    static String checkPrefix(String prefix) {
        if (prefix == null) {
            throw new IllegalArgumentException("prefix is null");
        }
        if (!prefix.isEmpty()) {
            String probe = prefix.endsWith("/") ? prefix + "x" : prefix;
            checkName(probe);
        }
        return prefix;
    }
}

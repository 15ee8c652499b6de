package dev.silo.backup;

import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.StreamingAead;
import com.google.crypto.tink.streamingaead.PredefinedStreamingAeadParameters;
import com.google.crypto.tink.streamingaead.StreamingAeadConfig;
import dev.silo.platform.crypto.Envelope;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.Optional;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;

import static java.util.Objects.requireNonNull;

/**
 * A {@link BackupStore} in front of another one that compresses, then encrypts, every object, so the store behind
 * it (a folder, a bucket) never holds plaintext.
 *
 * <p><b>Format.</b> Each object is DEFLATE (level 1) of the plaintext, encrypted with Tink's streaming AEAD
 * {@code AES256_GCM_HKDF_1MB} under the <em>backup keyset</em>, with {@code "silo/backup/v1/" + name} as associated
 * data. A swapped (renamed), truncated or edited object therefore fails to decrypt, and reading it throws a
 * {@link TamperedObjectException} naming it, never garbage. Decryption is segment by segment (1 MB): a reader may
 * receive the verified plaintext of the first segments before a later one fails, so a caller treats an exception
 * at any point as "this object is bad" and keeps nothing of it as good.
 *
 * <p><b>Why DEFLATE</b> ({@link Deflater}, in the JDK): WAL and data files compress several times over, and the JDK
 * codec needs no native library (zstd or LZ4 would, through JNI) and no dependency; level 1 because compression
 * runs on the backup path, where throughput matters more than the last few percent. Compression comes before
 * encryption because ciphertext does not compress.
 *
 * <p><b>The backup keyset</b> is generated on first use, wrapped by the master key ({@link Envelope#wrapKeyset},
 * associated data {@value #KEYSET_CONTEXT}) and stored in the store itself as {@value #KEYSET_OBJECT}, so a Silo
 * rebuilt on an empty machine needs only the store and the master key. Names under {@code keys/} are reserved:
 * {@link #put}, {@link #get} and {@link #delete} refuse them and {@link #list} does not show them. Opening a store
 * written under another master key fails with a {@link WrongMasterKeyException}.
 *
 * <p><b>Threads.</b> Compression and encryption are CPU-heavy: callers run {@link #put} and read the streams of
 * {@link #get} on platform threads (the backup jobs' own pool), never on a request's virtual thread.
 *
 * <p>{@link #list} returns the plaintext names and the stored (ciphertext) sizes.
 */
public final class EncryptedBackupStore implements BackupStore {
    /** Where the wrapped backup keyset lives in the store. */
    public static final String KEYSET_OBJECT = "keys/backup-keyset.v1";
    static final String KEYSET_CONTEXT = "silo/backup-store/keyset/v1";
    private static final String RESERVED_PREFIX = "keys/";
    private static final String ASSOCIATED_DATA_PREFIX = "silo/backup/v1/";
    private static final int CHUNK = 64 * 1024;

    static {
        try {
            StreamingAeadConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final BackupStore inner;
    private final StreamingAead aead;

    private EncryptedBackupStore(BackupStore inner, StreamingAead aead) {
        this.inner = requireNonNull(inner, "inner is null");
        this.aead = requireNonNull(aead, "aead is null");
    }

    /**
     * Opens the encrypted view of {@code inner}: reads its backup keyset, or generates and stores one when the store
     * has none yet.
     *
     * @throws WrongMasterKeyException when the stored keyset does not unwrap under {@code envelope}'s master key
     */
    public static EncryptedBackupStore open(BackupStore inner, Envelope envelope) throws IOException {
        requireNonNull(inner, "inner is null");
        requireNonNull(envelope, "envelope is null");
        Optional<byte[]> stored = readKeyset(inner);
        if (stored.isEmpty()) {
            KeysetHandle fresh;
            try {
                fresh = KeysetHandle.generateNew(PredefinedStreamingAeadParameters.AES256_GCM_HKDF_1MB);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("cannot generate a backup keyset", e);
            }
            inner.put(KEYSET_OBJECT, new ByteArrayInputStream(envelope.wrapKeyset(fresh, KEYSET_CONTEXT)));
            // Read back what the store holds: if two nodes raced to create the keyset, both now use the one that won.
            stored = readKeyset(inner);
            if (stored.isEmpty()) {
                throw new IOException("the backup store at " + inner.describe() + " lost " + KEYSET_OBJECT
                        + " right after it was written");
            }
        }
        KeysetHandle keyset;
        try {
            keyset = envelope.unwrapKeyset(stored.get(), KEYSET_CONTEXT);
        } catch (Envelope.WrongKeyException e) {
            throw new WrongMasterKeyException("the backup store at " + inner.describe()
                    + " was written under another master key: its keyset " + KEYSET_OBJECT
                    + " does not unwrap under this one (or that object was altered)");
        }
        try {
            return new EncryptedBackupStore(inner, keyset.getPrimitive(RegistryConfiguration.get(), StreamingAead.class));
        } catch (GeneralSecurityException e) {
            throw new IOException("the backup keyset of " + inner.describe() + " is not a streaming AEAD keyset", e);
        }
    }

    private static Optional<byte[]> readKeyset(BackupStore inner) throws IOException {
        Optional<InputStream> in = inner.get(KEYSET_OBJECT);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        try (InputStream stream = in.get()) {
            return Optional.of(stream.readAllBytes());
        }
    }

    /** The store behind this one, holding only ciphertext (and the wrapped keyset). */
    public BackupStore inner() {
        return inner;
    }

    @Override
    public void put(String name, InputStream content) throws IOException {
        checkNotReserved(name);
        requireNonNull(content, "content is null");
        try (EncryptingInputStream ciphertext = new EncryptingInputStream(content, associatedData(name))) {
            inner.put(name, ciphertext);
        }
    }

    @Override
    public Optional<InputStream> get(String name) throws IOException {
        checkNotReserved(name);
        Optional<InputStream> stored = inner.get(name);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new DecryptingInputStream(name, stored.get()));
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        return inner.list(prefix).stream().filter(object -> !object.name().startsWith(RESERVED_PREFIX)).toList();
    }

    @Override
    public void delete(String name) throws IOException {
        checkNotReserved(name);
        inner.delete(name);
    }

    @Override
    public String describe() {
        return inner.describe() + " (encrypted)";
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }

    private static void checkNotReserved(String name) {
        if (BackupStore.checkName(name).startsWith(RESERVED_PREFIX)) {
            throw new IllegalArgumentException("backup object names under '" + RESERVED_PREFIX
                    + "' are reserved for the store's keys: '" + name + "'");
        }
    }

    private static byte[] associatedData(String name) {
        return (ASSOCIATED_DATA_PREFIX + name).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The ciphertext of a plaintext stream, produced as it is read: each read pulls a chunk of plaintext through the
     * deflater and the encrypting stream into a small buffer (a segment at most), so no object is ever held whole.
     */
    private final class EncryptingInputStream extends InputStream {
        private final InputStream plaintext;
        private final Deflater deflater = new Deflater(Deflater.BEST_SPEED);
        private final Buffer sink = new Buffer();
        private final OutputStream pipeline;
        private final byte[] chunk = new byte[CHUNK];
        private byte[] pending = new byte[0];
        private int position;
        private boolean finished;

        EncryptingInputStream(InputStream plaintext, byte[] associatedData) throws IOException {
            this.plaintext = plaintext;
            try {
                this.pipeline = new DeflaterOutputStream(aead.newEncryptingStream(sink, associatedData), deflater, CHUNK);
            } catch (GeneralSecurityException e) {
                deflater.end();
                throw new IOException("cannot start encrypting a backup object", e);
            }
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            while (position == pending.length) {
                if (finished) {
                    return -1;
                }
                fill();
            }
            int n = Math.min(length, pending.length - position);
            System.arraycopy(pending, position, buffer, offset, n);
            position += n;
            return n;
        }

        private void fill() throws IOException {
            int n = plaintext.read(chunk);
            if (n < 0) {
                pipeline.close(); // finishes the deflater and writes the final, authenticated segment
                deflater.end();
                finished = true;
            } else {
                pipeline.write(chunk, 0, n);
            }
            pending = sink.drain();
            position = 0;
        }

        @Override
        public void close() {
            deflater.end();
        }
    }

    /** A byte sink that hands out what was written so far and starts again empty. */
    private static final class Buffer extends ByteArrayOutputStream {
        byte[] drain() {
            byte[] bytes = toByteArray();
            reset();
            return bytes;
        }
    }

    /**
     * The plaintext of a stored object. Failures of the store itself (the network, the disk) pass through as they
     * are; a failure to decrypt or inflate becomes a {@link TamperedObjectException} naming the object.
     */
    private final class DecryptingInputStream extends InputStream {
        private final String name;
        private final WatchedInputStream stored;
        private InputStream in;

        DecryptingInputStream(String name, InputStream stored) {
            this.name = name;
            this.stored = new WatchedInputStream(stored);
        }

        private InputStream plaintext() throws IOException {
            if (in == null) {
                try {
                    in = new InflaterInputStream(aead.newDecryptingStream(stored, associatedData(name)), new Inflater(), CHUNK) {
                        @Override
                        public void close() throws IOException {
                            super.close();
                            inf.end();
                        }
                    };
                } catch (GeneralSecurityException e) {
                    throw new IOException("cannot start decrypting backup object '" + name + "'", e);
                }
            }
            return in;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            try {
                return plaintext().read(buffer, offset, length);
            } catch (IOException e) {
                if (stored.failure != null) {
                    throw stored.failure;
                }
                throw new TamperedObjectException("backup object '" + name + "' in " + inner.describe()
                        + " failed its integrity check: it was altered, truncated, or is another object's content"
                        + " under this name", e);
            }
        }

        @Override
        public void close() throws IOException {
            if (in != null) {
                in.close();
            } else {
                stored.close();
            }
        }
    }

    /** Remembers an I/O failure of the stored stream, to tell a failing store from a bad object. */
    private static final class WatchedInputStream extends FilterInputStream {
        IOException failure;

        WatchedInputStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (IOException e) {
                failure = e;
                throw e;
            }
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            try {
                return super.read(buffer, offset, length);
            } catch (IOException e) {
                failure = e;
                throw e;
            }
        }
    }

    /** An object that does not decrypt under its own name: altered, truncated, or another object's bytes. */
    public static final class TamperedObjectException extends IOException {
        public TamperedObjectException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The store's keyset was wrapped under another master key. */
    public static final class WrongMasterKeyException extends IOException {
        public WrongMasterKeyException(String message) {
            super(message);
        }
    }
}

package dev.silo.backup;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The {@link BackupStore} contract, run against every implementation (a folder, an S3 bucket, and the encrypting
 * decorator over each): one subclass per store.
 */
abstract class BackupStoreContractTest {
    protected BackupStore store;

    /** A new, empty store. */
    protected abstract BackupStore newStore() throws Exception;

    @BeforeEach
    void open() throws Exception {
        store = newStore();
    }

    @AfterEach
    void closeStore() throws IOException {
        store.close();
    }

    static InputStream bytes(String text) {
        return new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8));
    }

    static String read(BackupStore store, String name) throws IOException {
        try (InputStream in = store.get(name).orElseThrow()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** A stream of {@code size} pseudo-random (incompressible) bytes, generated as it is read. */
    static InputStream randomBytes(long seed, long size) {
        Random random = new Random(seed);
        return new InputStream() {
            private long left = size;

            @Override
            public int read() {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] buffer, int offset, int length) {
                if (left == 0) {
                    return -1;
                }
                int n = (int) Math.min(length, left);
                byte[] chunk = new byte[n];
                random.nextBytes(chunk);
                System.arraycopy(chunk, 0, buffer, offset, n);
                left -= n;
                return n;
            }
        };
    }

    static byte[] sha256(InputStream in) throws IOException {
        try (in) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                digest.update(buffer, 0, n);
            }
            return digest.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void objectsAreWrittenReplacedListedInOrderAndDeleted() throws IOException {
        store.put("wal/000000010000000000000002", bytes("two"));
        store.put("wal/000000010000000000000001", bytes("one"));
        store.put("base/b1/manifest.json", bytes("{}"));
        store.put("wal/000000010000000000000001", bytes("one, again"));
        store.put("empty", bytes(""));
        assertThat(read(store, "wal/000000010000000000000001")).isEqualTo("one, again");
        assertThat(read(store, "empty")).isEmpty();
        assertThat(store.list("wal/")).extracting(BackupStore.StoredObject::name)
                .containsExactly("wal/000000010000000000000001", "wal/000000010000000000000002");
        assertThat(store.list("")).extracting(BackupStore.StoredObject::name)
                .containsExactly("base/b1/manifest.json", "empty", "wal/000000010000000000000001", "wal/000000010000000000000002");
        assertThat(store.list("wal/")).allSatisfy(object -> assertThat(object.size()).isPositive());
        // When each object was stored (a restore refuses a --to-time after the newest WAL object): not in the future.
        java.time.Instant listedAt = java.time.Instant.now().plusSeconds(5);
        assertThat(store.list("")).allSatisfy(object -> assertThat(object.storedAt()).hasValueSatisfying(
                storedAt -> assertThat(storedAt).isBefore(listedAt)));
        assertThat(store.list("nothing/")).isEmpty();
        store.delete("wal/000000010000000000000002");
        store.delete("wal/000000010000000000000002"); // absent: not an error
        assertThat(store.get("wal/000000010000000000000002")).isEmpty();
        assertThat(store.get("never-written")).isEmpty();
        assertThat(store.list("wal/")).extracting(BackupStore.StoredObject::name).containsExactly("wal/000000010000000000000001");
    }

    @Test
    void aMultiMegabyteObjectRoundTripsByteForByte() throws IOException {
        long size = 20L * 1024 * 1024 + 12345; // more than two S3 parts, not a multiple of anything
        store.put("base/b1/big", randomBytes(42, size));
        assertThat(sha256(store.get("base/b1/big").orElseThrow())).isEqualTo(sha256(randomBytes(42, size)));
        assertThat(store.list("base/")).singleElement().extracting(BackupStore.StoredObject::size)
                .satisfies(stored -> assertThat((long) stored).isGreaterThanOrEqualTo(size));
    }

    @Test
    void aPutThatFailsMidwayLeavesTheOldObjectAndNoPart() throws IOException {
        store.put("base/x", bytes("old"));
        for (long failAfter : new long[] {1000, 9L * 1024 * 1024}) { // inside the first S3 part, and after it
            InputStream failing = new InputStream() {
                private final InputStream source = randomBytes(7, failAfter);

                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
                }

                @Override
                public int read(byte[] buffer, int offset, int length) throws IOException {
                    int n = source.read(buffer, offset, length);
                    if (n < 0) {
                        throw new IOException("source broke");
                    }
                    return n;
                }
            };
            assertThatThrownBy(() -> store.put("base/x", failing)).hasStackTraceContaining("source broke");
            assertThat(read(store, "base/x")).isEqualTo("old");
            assertThat(store.list("")).extracting(BackupStore.StoredObject::name).containsExactly("base/x");
        }
    }

    @Test
    void invalidNamesAreRefused() throws IOException {
        for (String bad : new String[] {"../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "", "a b", "wal/", "ü"}) {
            assertThatThrownBy(() -> store.put(bad, bytes("x"))).as(bad).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> store.get(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> store.delete(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> store.list("../")).isInstanceOf(IllegalArgumentException.class);
        assertThat(store.list("")).isEmpty();
    }
}

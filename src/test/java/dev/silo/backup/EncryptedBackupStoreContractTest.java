package dev.silo.backup;

import dev.silo.platform.crypto.Envelope;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The contract through the encrypting decorator, and what the decorator promises: the store behind it holds no
 * plaintext, and an object swapped, truncated or edited there fails to read with an error naming it.
 */
abstract class EncryptedBackupStoreContractTest extends BackupStoreContractTest {
    private static final String MARKER = "PLAINTEXT-MARKER-7f3a";
    private final byte[] masterKey = newMasterKey();

    /** A new, empty store to put the encrypting decorator in front of. */
    protected abstract BackupStore newRawStore() throws Exception;

    private static byte[] newMasterKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return key;
    }

    @Override
    protected BackupStore newStore() throws Exception {
        return EncryptedBackupStore.open(newRawStore(), Envelope.fromRawKey(masterKey));
    }

    private BackupStore raw() {
        return ((EncryptedBackupStore) store).inner();
    }

    private static byte[] rawBytes(BackupStore raw, String name) throws IOException {
        try (InputStream in = raw.get(name).orElseThrow()) {
            return in.readAllBytes();
        }
    }

    private static byte[] readAll(BackupStore store, String name) throws IOException {
        try (InputStream in = store.get(name).orElseThrow()) {
            return in.readAllBytes();
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void theStoreBehindHoldsNoPlaintextAndTheKeysetIsKeptInIt() throws IOException {
        String text = (MARKER + " tenant row 42\n").repeat(10_000);
        store.put("base/b1/relation", bytes(text));
        store.put("wal/one-line", bytes(MARKER));
        byte[] stored = rawBytes(raw(), "base/b1/relation");
        assertThat(indexOf(stored, MARKER.getBytes(StandardCharsets.UTF_8))).isEqualTo(-1);
        assertThat(indexOf(rawBytes(raw(), "wal/one-line"), MARKER.getBytes(StandardCharsets.UTF_8))).isEqualTo(-1);
        assertThat(stored.length).as("compressed before encryption").isLessThan(text.length() / 20);
        assertThat(read(store, "base/b1/relation")).isEqualTo(text);

        assertThat(raw().list("")).extracting(BackupStore.StoredObject::name)
                .containsExactly("base/b1/relation", EncryptedBackupStore.KEYSET_OBJECT, "wal/one-line");
        assertThat(store.list("")).extracting(BackupStore.StoredObject::name)
                .containsExactly("base/b1/relation", "wal/one-line");
        assertThat(store.list("base/")).singleElement().extracting(BackupStore.StoredObject::size)
                .isEqualTo((long) stored.length);
        assertThatThrownBy(() -> store.put(EncryptedBackupStore.KEYSET_OBJECT, bytes("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserved");
        assertThatThrownBy(() -> store.get(EncryptedBackupStore.KEYSET_OBJECT)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anObjectMovedToAnotherNameFailsToReadNamingIt() throws IOException {
        store.put("wal/000000010000000000000001", bytes("first segment"));
        store.put("wal/000000010000000000000002", bytes("second segment"));
        raw().put("wal/000000010000000000000002", new ByteArrayInputStream(rawBytes(raw(), "wal/000000010000000000000001")));
        assertThatThrownBy(() -> readAll(store, "wal/000000010000000000000002"))
                .isInstanceOf(EncryptedBackupStore.TamperedObjectException.class)
                .hasMessageContaining("'wal/000000010000000000000002'")
                .hasMessageContaining("integrity");
        assertThat(read(store, "wal/000000010000000000000001")).isEqualTo("first segment");
    }

    @Test
    void aTruncatedOrEditedObjectFailsToReadNamingIt() throws IOException {
        long size = 3L * 1024 * 1024 + 17; // several 1 MB segments, incompressible
        store.put("base/b1/data", randomBytes(5, size));
        byte[] stored = rawBytes(raw(), "base/b1/data");

        for (int cut : new int[] {stored.length - 1, stored.length / 2, 1024 * 1024 + 40, 10, 0}) {
            raw().put("base/b1/data", new ByteArrayInputStream(Arrays.copyOf(stored, cut)));
            assertThatThrownBy(() -> readAll(store, "base/b1/data")).as("truncated to %d bytes", cut)
                    .isInstanceOf(EncryptedBackupStore.TamperedObjectException.class)
                    .hasMessageContaining("'base/b1/data'");
        }
        for (int position : new int[] {0, 30, stored.length / 2, stored.length - 1}) {
            byte[] edited = stored.clone();
            edited[position] ^= 0x04;
            raw().put("base/b1/data", new ByteArrayInputStream(edited));
            assertThatThrownBy(() -> readAll(store, "base/b1/data")).as("bit flipped at %d", position)
                    .isInstanceOf(EncryptedBackupStore.TamperedObjectException.class)
                    .hasMessageContaining("'base/b1/data'");
        }
        raw().put("base/b1/data", new ByteArrayInputStream(stored));
        assertThat(sha256(store.get("base/b1/data").orElseThrow())).isEqualTo(sha256(randomBytes(5, size)));
    }

    @Test
    void anotherNodeWithTheSameMasterKeyReadsTheStoreAndAnotherMasterKeyIsRefused() throws Exception {
        store.put("base/b1/manifest.json", bytes("{\"tenants\": 3}"));
        byte[] keyset = rawBytes(raw(), EncryptedBackupStore.KEYSET_OBJECT);

        EncryptedBackupStore second = EncryptedBackupStore.open(raw(), Envelope.fromRawKey(masterKey.clone()));
        assertThat(read(second, "base/b1/manifest.json")).isEqualTo("{\"tenants\": 3}");
        second.put("base/b1/written-by-second", bytes("hello"));
        assertThat(read(store, "base/b1/written-by-second")).isEqualTo("hello");
        assertThat(rawBytes(raw(), EncryptedBackupStore.KEYSET_OBJECT)).as("the keyset is not regenerated").isEqualTo(keyset);

        assertThatThrownBy(() -> EncryptedBackupStore.open(raw(), Envelope.fromRawKey(newMasterKey())))
                .isInstanceOf(EncryptedBackupStore.WrongMasterKeyException.class)
                .hasMessageContaining("the backup store at " + raw().describe() + " was written under another master key");
        assertThat(rawBytes(raw(), EncryptedBackupStore.KEYSET_OBJECT)).as("a wrong key never replaces the keyset").isEqualTo(keyset);
    }
}

package dev.silo.backup;

import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FileBackupStoreTest extends BackupStoreContractTest {
    @Override
    protected BackupStore newStore() throws IOException {
        return new FileBackupStore(TestingSilo.newDataDir("store-contract").resolve("backups"));
    }

    @Test
    void filesAreWrittenPrivatelyWithTheirOwnSizes() throws IOException {
        Path dir = TestingSilo.newDataDir("store");
        try (FileBackupStore store = new FileBackupStore(dir.resolve("backups"))) {
            store.put("wal/000000010000000000000002", bytes("two"));
            store.put("wal/000000010000000000000001", bytes("one"));
            store.put("base/b1/manifest.json", bytes("{}"));
            store.put("wal/000000010000000000000001", bytes("one, again"));
            assertThat(read(store, "wal/000000010000000000000001")).isEqualTo("one, again");
            assertThat(store.list("wal/")).extracting(BackupStore.StoredObject::name)
                    .containsExactly("wal/000000010000000000000001", "wal/000000010000000000000002");
            assertThat(store.list("")).hasSize(3);
            assertThat(store.list("wal/")).first().extracting(BackupStore.StoredObject::size).isEqualTo(10L);
            store.delete("wal/000000010000000000000002");
            store.delete("wal/000000010000000000000002"); // absent: not an error
            assertThat(store.get("wal/000000010000000000000002")).isEmpty();
            assertThat(Files.getPosixFilePermissions(store.root().resolve("wal"))).isEqualTo(PosixFilePermissions.fromString("rwx------"));
            assertThat(Files.getPosixFilePermissions(store.root().resolve("wal/000000010000000000000001")))
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        }
    }

    @Test
    void aCrashedPutLeavesNoTemporaryFileBehind() throws IOException {
        Path dir = TestingSilo.newDataDir("store-crash");
        try (FileBackupStore store = new FileBackupStore(dir.resolve("backups"))) {
            store.put("base/x", bytes("old"));
            InputStream failing = new InputStream() {
                private int left = 1000;

                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    return read(one, 0, 1) < 0 ? -1 : one[0];
                }

                @Override
                public int read(byte[] buffer, int offset, int length) throws IOException {
                    if (left <= 0) {
                        throw new IOException("source broke");
                    }
                    int n = Math.min(length, left);
                    java.util.Arrays.fill(buffer, offset, offset + n, (byte) 'n');
                    left -= n;
                    return n;
                }
            };
            assertThatThrownBy(() -> store.put("base/x", failing)).hasMessageContaining("source broke");
            assertThat(read(store, "base/x")).isEqualTo("old");
            assertThat(store.list("")).extracting(BackupStore.StoredObject::name).containsExactly("base/x");
        }
        // The leftover of a crashed put (a temporary file) is removed at the next open and never listed.
        Files.writeString(dir.resolve("backups/base/.x.1234.tmp"), "partial");
        try (FileBackupStore store = new FileBackupStore(dir.resolve("backups"))) {
            assertThat(store.list("")).extracting(BackupStore.StoredObject::name).containsExactly("base/x");
            assertThat(dir.resolve("backups/base/.x.1234.tmp")).doesNotExist();
        }
    }

    @Test
    void namesThatCouldEscapeTheFolderAreRefused() throws IOException {
        Path dir = TestingSilo.newDataDir("store-names");
        try (FileBackupStore store = new FileBackupStore(dir.resolve("backups"))) {
            for (String bad : new String[] {"../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "", "a b", "wal/", "ü"}) {
                assertThatThrownBy(() -> store.put(bad, bytes("x"))).as(bad).isInstanceOf(IllegalArgumentException.class);
                assertThatThrownBy(() -> store.get(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
            }
            assertThatThrownBy(() -> store.list("../")).isInstanceOf(IllegalArgumentException.class);
            assertThat(dir.resolve("x")).doesNotExist();
        }
    }

    /** Bench run of 2026-12-08: GET /admin/backups answered 500 when a base backup renamed a part into place mid-walk. */
    @Test
    void listingWhileObjectsAreWrittenAndDeletedNeverFails() throws Exception {
        Path dir = TestingSilo.newDataDir("store-churn");
        try (FileBackupStore store = new FileBackupStore(dir.resolve("backups"))) {
            store.put("base/b0/manifest.json", bytes("{}"));
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicReference<Throwable> writerFailed = new java.util.concurrent.atomic.AtomicReference<>();
            Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; !done.get(); i++) {
                        store.put("base/b" + (i % 7) + "/db/" + i + ".tar", bytes("part " + i));
                        if (i % 3 == 0) {
                            store.delete("base/b" + (i % 7) + "/db/" + (i - 3) + ".tar");
                        }
                    }
                } catch (Throwable e) {
                    writerFailed.set(e);
                }
            });
            try {
                for (int round = 0; round < 300; round++) {
                    assertThat(store.list("base/")).as("round " + round).isNotEmpty()
                            .allSatisfy(object -> assertThat(object.name()).doesNotContain(".tmp"));
                }
            } finally {
                done.set(true);
                writer.join();
            }
            assertThat(writerFailed.get()).isNull();
        }
    }
}

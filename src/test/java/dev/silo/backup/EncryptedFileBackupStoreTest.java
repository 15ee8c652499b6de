package dev.silo.backup;

import dev.silo.testing.TestingSilo;

import java.io.IOException;

class EncryptedFileBackupStoreTest extends EncryptedBackupStoreContractTest {
    @Override
    protected BackupStore newRawStore() throws IOException {
        return new FileBackupStore(TestingSilo.newDataDir("store-encrypted").resolve("backups/store"));
    }
}

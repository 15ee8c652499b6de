package dev.silo.backup;

class EncryptedS3BackupStoreTest extends EncryptedBackupStoreContractTest {
    @Override
    protected BackupStore newRawStore() {
        return new S3BackupStore(TestingS3.newBucket("silo"));
    }
}

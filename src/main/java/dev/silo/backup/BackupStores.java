package dev.silo.backup;

import dev.silo.platform.config.BackupUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.crypto.Envelope;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;

import java.io.IOException;

import static java.util.Objects.requireNonNull;

/** Opens the backup store a configuration names, always behind the {@link EncryptedBackupStore}. */
public final class BackupStores {
    private BackupStores() {}

    /**
     * The encrypted store at {@code SILO_BACKUP_URL} (default {@code <data dir>/backups/store}): creates the folder, or
     * reaches the bucket, and reads (or on first use creates) the backup keyset.
     *
     * @throws EncryptedBackupStore.WrongMasterKeyException when the store was written under another master key
     * @throws IOException when the store cannot be reached
     */
    public static EncryptedBackupStore open(SiloConfig config, Envelope envelope) throws IOException {
        requireNonNull(config, "config is null");
        return open(config.backupUrl(), envelope);
    }

    public static EncryptedBackupStore open(BackupUrl url, Envelope envelope) throws IOException {
        requireNonNull(url, "url is null");
        requireNonNull(envelope, "envelope is null");
        BackupStore raw = switch (url) {
            case BackupUrl.Folder folder -> new FileBackupStore(folder.root());
            case BackupUrl.S3 s3 -> new S3BackupStore(new S3BackupStore.Location(s3.bucket(), s3.prefix(), s3.endpoint(),
                    s3.region().map(Region::of).orElseGet(BackupStores::defaultRegion),
                    DefaultCredentialsProvider.builder().build()));
        };
        try {
            return EncryptedBackupStore.open(raw, envelope);
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    /** The SDK's region chain (AWS_REGION, the profile, instance metadata), else us-east-1. */
    private static Region defaultRegion() {
        try {
            return DefaultAwsRegionProviderChain.builder().build().getRegion();
        } catch (SdkClientException none) {
            return Region.US_EAST_1;
        }
    }
}

package dev.silo.backup;

import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A {@link BackupStore} in an S3 bucket (AWS, or any S3-compatible store through an endpoint, with path-style
 * addressing), under a key prefix: object {@code wal/X} of {@code s3://bucket/silo} is key {@code silo/wal/X}.
 *
 * <p>A put of up to {@value #PART_SIZE} bytes is one PutObject; a larger one is a multipart upload of
 * {@value #PART_SIZE}-byte parts, so at most one part is held in memory whatever the object's size (S3 allows
 * 10,000 parts: 80 GiB). S3 makes either visible only when it is complete (PutObject, CompleteMultipartUpload), which
 * is the contract's atomic put; a failed multipart upload is aborted. Listings follow continuation tokens.
 */
public final class S3BackupStore implements BackupStore {
    /** 8 MiB: above S3's 5 MiB minimum part size, small enough to hold one in memory per running put. */
    static final int PART_SIZE = 8 * 1024 * 1024;

    private final S3Client client;
    private final String bucket;
    private final String keyPrefix;
    private final String description;
    private final int listPageSize;

    /**
     * Where the bucket is and how to reach it.
     *
     * @param bucket      the bucket name
     * @param prefix      the key prefix ({@code ""} for the bucket's root), without leading or trailing {@code /}
     * @param endpoint    an S3-compatible endpoint ({@code SILO_BACKUP_S3_ENDPOINT}); empty for AWS itself
     * @param region      the signing region
     * @param credentials where credentials come from (the SDK's default chain in production)
     */
    public record Location(String bucket, String prefix, Optional<URI> endpoint, Region region,
                           AwsCredentialsProvider credentials) {
        public Location {
            requireNonNull(bucket, "bucket is null");
            requireNonNull(prefix, "prefix is null");
            requireNonNull(endpoint, "endpoint is null");
            requireNonNull(region, "region is null");
            requireNonNull(credentials, "credentials is null");
        }
    }

    public S3BackupStore(Location location) {
        this(location, 1000);
    }

    /** {@code listPageSize} is the most keys one ListObjectsV2 call returns (S3's own limit is 1000). */
    S3BackupStore(Location location, int listPageSize) {
        requireNonNull(location, "location is null");
        S3ClientBuilder builder = S3Client.builder()
                .httpClient(UrlConnectionHttpClient.create())
                .region(location.region())
                .credentialsProvider(location.credentials());
        // Another S3-compatible store: path-style addressing (no bucket DNS names), and the flexible checksums the SDK
        // adds by default since 2.30 only where the operation requires them, as many such stores refuse those headers.
        // The content is authenticated end to end anyway (EncryptedBackupStore).
        location.endpoint().ifPresent(endpoint -> builder.endpointOverride(endpoint).forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED));
        this.client = builder.build();
        this.bucket = location.bucket();
        this.keyPrefix = location.prefix().isEmpty() ? "" : location.prefix() + "/";
        this.description = "s3://" + bucket + (location.prefix().isEmpty() ? "" : "/" + location.prefix())
                + location.endpoint().map(endpoint -> " at " + endpoint.getScheme() + "://" + endpoint.getHost()
                + (endpoint.getPort() < 0 ? "" : ":" + endpoint.getPort())).orElse("");
        this.listPageSize = listPageSize;
    }

    @Override
    public void put(String name, InputStream content) throws IOException {
        requireNonNull(content, "content is null");
        String key = keyOf(name);
        byte[] part = new byte[PART_SIZE];
        int length = content.readNBytes(part, 0, PART_SIZE);
        try {
            if (length < PART_SIZE) {
                client.putObject(PutObjectRequest.builder().bucket(bucket).key(key).build(),
                        RequestBody.fromBytes(java.util.Arrays.copyOf(part, length)));
                return;
            }
            putMultipart(key, content, part, length);
        } catch (SdkException e) {
            throw failure("write " + name + " to", e);
        }
    }

    private void putMultipart(String key, InputStream content, byte[] part, int firstLength) throws IOException {
        String uploadId = client.createMultipartUpload(CreateMultipartUploadRequest.builder().bucket(bucket).key(key)
                .build()).uploadId();
        boolean completed = false;
        try {
            List<CompletedPart> parts = new ArrayList<>();
            int length = firstLength;
            while (length > 0) {
                int number = parts.size() + 1;
                String etag = client.uploadPart(UploadPartRequest.builder().bucket(bucket).key(key).uploadId(uploadId)
                                .partNumber(number).contentLength((long) length).build(),
                        RequestBody.fromBytes(length == part.length ? part : java.util.Arrays.copyOf(part, length))).eTag();
                parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
                length = content.readNBytes(part, 0, part.length);
            }
            client.completeMultipartUpload(CompleteMultipartUploadRequest.builder().bucket(bucket).key(key)
                    .uploadId(uploadId).multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()).build());
            completed = true;
        } finally {
            if (!completed) {
                try {
                    client.abortMultipartUpload(AbortMultipartUploadRequest.builder().bucket(bucket).key(key)
                            .uploadId(uploadId).build());
                } catch (SdkException abortFailed) {
                    // the bucket's lifecycle rule for incomplete uploads removes it; the original failure matters
                }
            }
        }
    }

    @Override
    public Optional<InputStream> get(String name) throws IOException {
        String key = keyOf(name);
        try {
            return Optional.of(client.getObject(GetObjectRequest.builder().bucket(bucket).key(key).build()));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (SdkException e) {
            throw failure("read " + name + " from", e);
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        BackupStore.checkPrefix(prefix);
        List<StoredObject> objects = new ArrayList<>();
        try {
            for (S3Object object : client.listObjectsV2Paginator(ListObjectsV2Request.builder().bucket(bucket)
                    .prefix(keyPrefix + prefix).maxKeys(listPageSize).build()).contents()) {
                String name = object.key().substring(keyPrefix.length());
                if (BackupStore.NAME.matcher(name).matches()) {
                    objects.add(new StoredObject(name, object.size(), Optional.ofNullable(object.lastModified())));
                }
            }
        } catch (SdkException e) {
            throw failure("list " + (prefix.isEmpty() ? "the objects" : prefix) + " in", e);
        }
        // S3 lists in UTF-8 byte order, which for the ASCII names of the contract is String order; sorted anyway.
        objects.sort(Comparator.comparing(StoredObject::name));
        return objects;
    }

    @Override
    public void delete(String name) throws IOException {
        String key = keyOf(name);
        try {
            client.deleteObject(DeleteObjectRequest.builder().bucket(bucket).key(key).build());
        } catch (SdkException e) {
            throw failure("delete " + name + " from", e);
        }
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() {
        client.close();
    }

    private String keyOf(String name) {
        return keyPrefix + BackupStore.checkName(name);
    }

    private IOException failure(String action, SdkException e) {
        return new IOException("cannot " + action + " the backup store " + description + ": " + e.getMessage(), e);
    }
}

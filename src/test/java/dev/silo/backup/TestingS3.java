package dev.silo.backup;

import org.gaul.s3proxy.junit.S3ProxyJunitCore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.net.URI;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real S3 server in this JVM: S3Proxy over its filesystem blob store in a temporary folder, on a random loopback
 * port, started once and shared by the tests. Each {@link #newBucket} is a fresh, empty bucket.
 */
public final class TestingS3 {
    private static final AtomicInteger BUCKETS = new AtomicInteger();
    private static S3ProxyJunitCore server;

    private TestingS3() {}

    public static synchronized URI endpoint() {
        if (server == null) {
            // Credentials made up for this in-process server only; S3Proxy checks the SDK's V4 signatures with them.
            S3ProxyJunitCore started = new S3ProxyJunitCore.Builder().withCredentials("silo-test", "silo-test-secret").build();
            try {
                started.beforeEach();
            } catch (Exception e) {
                throw new IllegalStateException("cannot start S3Proxy", e);
            }
            server = started;
            Runtime.getRuntime().addShutdownHook(new Thread(started::afterEach));
        }
        return server.getUri();
    }

    public static StaticCredentialsProvider credentials() {
        endpoint();
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(server.getAccessKey(), server.getSecretKey()));
    }

    /** Creates an empty bucket and returns where a store in it, under {@code prefix}, is. */
    public static S3BackupStore.Location newBucket(String prefix) {
        String bucket = "bucket-" + BUCKETS.incrementAndGet() + "-" + ProcessHandle.current().pid();
        try (S3Client client = S3Client.builder().httpClient(UrlConnectionHttpClient.create()).region(Region.US_EAST_1)
                .credentialsProvider(credentials()).endpointOverride(endpoint()).forcePathStyle(true).build()) {
            client.createBucket(request -> request.bucket(bucket));
        }
        return new S3BackupStore.Location(bucket, prefix, Optional.of(endpoint()), Region.US_EAST_1, credentials());
    }
}

package dev.silo.backup;

import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.junit.S3ProxyJunitCore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real S3 server in this JVM: S3Proxy over its filesystem blob store in a temporary folder, on a random loopback
 * port, started once and shared by the tests. Each {@link #newBucket} is a fresh, empty bucket.
 */
public final class TestingS3 {
    // Credentials made up for these in-process servers only; S3Proxy checks the SDK's V4 signatures with them.
    private static final String ACCESS_KEY = "silo-test";
    private static final String SECRET_KEY = "silo-test-secret";
    private static final AtomicInteger BUCKETS = new AtomicInteger();
    private static S3ProxyJunitCore server;

    private TestingS3() {}

    public static synchronized URI endpoint() {
        if (server == null) {
            S3ProxyJunitCore started = new S3ProxyJunitCore.Builder().withCredentials(ACCESS_KEY, SECRET_KEY).build();
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

    /**
     * A server of its own that a test can stop and start again, as a store outage: the same port, the same folder of
     * objects, the same credentials as the shared one (so {@link #credentials()} signs for it too).
     */
    public static Outageable newOutageableServer() {
        try {
            return new Outageable(Files.createTempDirectory("silo-s3-outage"), freePort());
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare an S3Proxy", e);
        }
    }

    /** An S3Proxy over a filesystem blob store in {@code folder}, on a fixed loopback port; running after creation. */
    public static final class Outageable implements AutoCloseable {
        private final BlobStore blobStore;
        private final URI endpoint;
        private S3Proxy proxy;

        private Outageable(Path folder, int port) {
            Properties properties = new Properties();
            properties.setProperty("jclouds.filesystem.basedir", folder.toString());
            properties.setProperty("jclouds.identity", ACCESS_KEY);
            properties.setProperty("jclouds.credential", SECRET_KEY);
            this.blobStore = BlobStores.create("filesystem", properties);
            this.endpoint = URI.create("http://127.0.0.1:" + port);
            start();
        }

        public URI endpoint() {
            return endpoint;
        }

        /** Creates an empty bucket on this server and returns where a store in it, under {@code prefix}, is. */
        public S3BackupStore.Location newBucket(String prefix) {
            String bucket = "outage-" + BUCKETS.incrementAndGet() + "-" + ProcessHandle.current().pid();
            try (S3Client client = S3Client.builder().httpClient(UrlConnectionHttpClient.create()).region(Region.US_EAST_1)
                    .credentialsProvider(credentials()).endpointOverride(endpoint).forcePathStyle(true).build()) {
                client.createBucket(request -> request.bucket(bucket));
            }
            return new S3BackupStore.Location(bucket, prefix, Optional.of(endpoint), Region.US_EAST_1, credentials());
        }

        /** Starts serving again on the same port, with every object it held. */
        public synchronized void start() {
            if (proxy != null) {
                return;
            }
            S3Proxy started = S3Proxy.builder().blobStore(blobStore)
                    .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                    .ignoreUnknownHeaders(true).endpoint(endpoint).build();
            try {
                started.start();
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (!"STARTED".equals(started.getState())) {
                    if (System.nanoTime() - deadline > 0) {
                        throw new IllegalStateException("S3Proxy did not start on " + endpoint + ": " + started.getState());
                    }
                    Thread.sleep(10);
                }
            } catch (Exception e) {
                throw new IllegalStateException("cannot start S3Proxy on " + endpoint, e);
            }
            proxy = started;
        }

        /** Stops serving: connections are refused until {@link #start}. */
        public synchronized void stop() {
            if (proxy == null) {
                return;
            }
            try {
                proxy.stop();
            } catch (Exception e) {
                throw new IllegalStateException("cannot stop S3Proxy on " + endpoint, e);
            }
            proxy = null;
        }

        @Override
        public void close() {
            stop();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}

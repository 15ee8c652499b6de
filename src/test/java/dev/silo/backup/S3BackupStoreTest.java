package dev.silo.backup;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.util.Optional;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The contract against a real S3 server (S3Proxy in-process), plus what only S3 has: prefixes and pagination. */
class S3BackupStoreTest extends BackupStoreContractTest {
    @Override
    protected BackupStore newStore() {
        return new S3BackupStore(TestingS3.newBucket("silo/node-1"));
    }

    @Test
    void listingsFollowContinuationTokensAndStayInsideTheirPrefix() throws IOException {
        S3BackupStore.Location location = TestingS3.newBucket("tenant-a");
        try (S3BackupStore small = new S3BackupStore(location, 2);
             S3BackupStore neighbour = new S3BackupStore(new S3BackupStore.Location(location.bucket(), "tenant-b",
                     location.endpoint(), location.region(), location.credentials()))) {
            for (int i = 0; i < 7; i++) {
                small.put("wal/segment-" + i, bytes("segment " + i));
            }
            neighbour.put("wal/segment-0", bytes("not a's"));
            assertThat(small.list("wal/")).extracting(BackupStore.StoredObject::name)
                    .containsExactlyElementsOf(IntStream.range(0, 7).mapToObj(i -> "wal/segment-" + i).toList());
            assertThat(small.list("wal/")).first().extracting(BackupStore.StoredObject::size).isEqualTo(9L);
            assertThat(neighbour.list("")).extracting(BackupStore.StoredObject::name).containsExactly("wal/segment-0");
            assertThat(read(neighbour, "wal/segment-0")).isEqualTo("not a's");
            assertThat(small.describe()).isEqualTo("s3://" + location.bucket() + "/tenant-a at "
                    + location.endpoint().orElseThrow().getScheme() + "://" + location.endpoint().orElseThrow().getHost()
                    + ":" + location.endpoint().orElseThrow().getPort());
        }
    }

    @Test
    void anUnreachableStoreIsAnIoExceptionNamingItWithoutCredentials() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        S3BackupStore.Location reachable = TestingS3.newBucket("x");
        try (S3BackupStore unreachable = new S3BackupStore(new S3BackupStore.Location(reachable.bucket(), "x",
                Optional.of(URI.create("http://127.0.0.1:" + closedPort)), reachable.region(), reachable.credentials()))) {
            String secret = reachable.credentials().resolveCredentials().secretAccessKey();
            assertThatThrownBy(() -> unreachable.put("wal/a", bytes("a"))).isInstanceOf(IOException.class)
                    .hasMessageStartingWith("cannot write wal/a to the backup store s3://" + reachable.bucket() + "/x at http://127.0.0.1:" + closedPort)
                    .hasMessageNotContaining(secret);
            assertThatThrownBy(() -> unreachable.list("")).isInstanceOf(IOException.class)
                    .hasMessageStartingWith("cannot list the objects in the backup store s3://" + reachable.bucket());
            assertThatThrownBy(() -> unreachable.get("wal/a")).isInstanceOf(IOException.class);
        }
    }
}

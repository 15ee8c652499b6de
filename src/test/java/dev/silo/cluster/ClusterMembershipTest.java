package dev.silo.cluster;

import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.CatalogMigrations;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The leases alone, two memberships on one fresh catalog: what a node does when its session is cut under it. */
class ClusterMembershipTest {
    private static ClusterCatalog catalog;
    private static DatabaseUrl url;
    private static PGSimpleDataSource dataSource;

    @BeforeAll
    static void migratedCatalog() throws Exception {
        catalog = ClusterCatalog.create("silo_leases");
        url = DatabaseUrl.parse("the test catalog", catalog.catalogUrl());
        dataSource = new PGSimpleDataSource();
        dataSource.setURL(url.jdbcUrl());
        url.properties().forEach((key, value) -> {
            try {
                dataSource.setProperty(key.toString(), value.toString());
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        });
        CatalogMigrations.migrate(dataSource);
    }

    @AfterAll
    static void drop() throws SQLException {
        if (catalog != null) {
            catalog.drop();
        }
    }

    @Test
    void aNodeWhoseSessionIsCutRunsNoRoundAndTheOtherTakesTheLease() throws SQLException {
        AtomicInteger roundsOne = new AtomicInteger();
        AtomicInteger roundsTwo = new AtomicInteger();
        try (ClusterMembership one = membership("one", roundsOne).start();
             ClusterMembership two = membership("two", roundsTwo).start()) {
            assertThat(one.held()).containsExactly(ClusterJob.TENANT_LIFECYCLE);
            assertThat(two.runIfHeld(ClusterJob.TENANT_LIFECYCLE)).isFalse();
            assertThat(one.runIfHeld(ClusterJob.TENANT_LIFECYCLE)).isTrue();
            assertThat(roundsOne).hasValue(1);
            assertThat(roundsTwo).hasValue(0);

            // An operator (or a failover of the catalog) ends one's session: its lock goes with it.
            terminate(leasePid(one.nodeId()));
            assertThat(two.runIfHeld(ClusterJob.TENANT_LIFECYCLE)).as("the free lease is taken at the round").isTrue();
            assertThat(roundsTwo).hasValue(1);
            // one still believed it held the lease; the confirmation on its (new) session says otherwise.
            assertThat(one.runIfHeld(ClusterJob.TENANT_LIFECYCLE)).isFalse();
            assertThat(roundsOne).hasValue(1);
            // one comes back on a new session and beats again; the API shows the lease with two.
            int cutPid = leasePid(two.nodeId());
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                List<ClusterNodes.Node> live = new ClusterNodes(dataSource).live();
                assertThat(live).extracting(ClusterNodes.Node::id).containsExactly(one.nodeId(), two.nodeId());
                assertThat(ClusterNodes.holders(live)).containsEntry(ClusterJob.TENANT_LIFECYCLE.jobName(), two.nodeId());
            });
            assertThat(leasePid(two.nodeId())).isEqualTo(cutPid);

            // An orderly stop releases at once and removes the row.
            two.close();
            assertThat(one.runIfHeld(ClusterJob.TENANT_LIFECYCLE)).isTrue();
            assertThat(new ClusterNodes(dataSource).live()).extracting(ClusterNodes.Node::id).containsExactly(one.nodeId());
        }
    }

    private static ClusterMembership membership(String host, AtomicInteger rounds) {
        return new ClusterMembership(url, host, "test", Instant.now(), () -> List.of("audit-checkpoints"))
                .register(ClusterJob.TENANT_LIFECYCLE, rounds::incrementAndGet);
    }

    private static int leasePid(UUID node) throws SQLException {
        try (Connection connection = dataSource.getConnection();
             PreparedStatement select = connection.prepareStatement("SELECT lease_pid FROM cluster_nodes WHERE id = ?")) {
            select.setObject(1, node);
            try (ResultSet rs = select.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getInt(1);
            }
        }
    }

    /**
     * Ends the backend and waits (up to 30 s) until it has exited: without the timeout pg_terminate_backend only
     * signals it, and on a busy machine the next statement could still find its advisory lock held.
     */
    private static void terminate(int pid) throws SQLException {
        try (Connection connection = dataSource.getConnection();
             PreparedStatement kill = connection.prepareStatement("SELECT pg_terminate_backend(?, 30000)")) {
            kill.setInt(1, pid);
            kill.execute();
        }
    }
}

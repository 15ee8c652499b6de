package dev.silo.cluster;

import dev.silo.platform.db.Sql;

import javax.sql.DataSource;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The live nodes of the cluster as the catalog knows them: heartbeat rows seen within {@link ClusterMembership#LIVE},
 * and for each the cluster jobs whose leases its session holds right now (read from {@code pg_locks}, not from what
 * the node says, so a node that lost its session shows none).
 */
public final class ClusterNodes {
    private final DataSource catalog;

    public ClusterNodes(DataSource catalog) {
        this.catalog = requireNonNull(catalog, "catalog is null");
    }

    /** One live node. */
    public record Node(UUID id, String host, String version, Instant startedAt, Instant lastSeen, List<String> jobs,
                       List<String> nodeJobs) {
        public Node {
            requireNonNull(id, "id is null");
            jobs = List.copyOf(jobs);
            nodeJobs = List.copyOf(nodeJobs);
        }

        public Map<String, Object> body() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", id);
            body.put("host", host);
            body.put("version", version);
            body.put("started_at", startedAt);
            body.put("last_seen", lastSeen);
            body.put("jobs", jobs);
            body.put("node_jobs", nodeJobs);
            return body;
        }
    }

    private static final String LIVE_NODES = """
            SELECT n.id, n.host, n.version, n.started_at, n.last_seen, n.node_jobs,
                   array(SELECT l.objid::int FROM pg_locks l
                         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ? AND l.objsubid = 2
                           AND l.pid = n.lease_pid
                           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                         ORDER BY 1)
            FROM cluster_nodes n
            WHERE n.last_seen > now() - make_interval(secs => ?)
            ORDER BY n.started_at, n.id
            """;

    /** The live nodes, oldest start first. */
    public List<Node> live() {
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement(LIVE_NODES)) {
                select.setInt(1, ClusterJob.LEASE_SPACE);
                select.setLong(2, ClusterMembership.LIVE.toSeconds());
                List<Node> nodes = new ArrayList<>();
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        List<String> jobs = Arrays.stream((Integer[]) rs.getArray(7).getArray())
                                .map(key -> ClusterJob.byKey(key).map(ClusterJob::jobName).orElse("unknown-" + key))
                                .toList();
                        nodes.add(new Node(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                                rs.getTimestamp(4).toInstant(), rs.getTimestamp(5).toInstant(), jobs,
                                List.of((String[]) rs.getArray(6).getArray())));
                    }
                }
                return nodes;
            }
        });
    }

    /** Each cluster job and the live node holding it (null while none does: a takeover is due within a beat). */
    public static Map<String, UUID> holders(List<Node> nodes) {
        Map<String, UUID> holders = new LinkedHashMap<>();
        for (ClusterJob job : ClusterJob.values()) {
            holders.put(job.jobName(), nodes.stream().filter(node -> node.jobs().contains(job.jobName()))
                    .map(Node::id).findFirst().orElse(null));
        }
        return holders;
    }
}

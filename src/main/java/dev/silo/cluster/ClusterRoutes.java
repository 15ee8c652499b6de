package dev.silo.cluster;

import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * {@code GET /admin/cluster} (operator key): the live nodes (heartbeat within 30 s) with their host, version,
 * start, last heartbeat, the cluster jobs each holds and the node-local jobs each runs; which node holds each
 * cluster job; and which node answered.
 */
public final class ClusterRoutes {
    private final OperatorAuth auth;
    private final ClusterNodes nodes;
    private final UUID thisNode;

    public ClusterRoutes(OperatorAuth auth, ClusterNodes nodes, UUID thisNode) {
        this.auth = requireNonNull(auth, "auth is null");
        this.nodes = requireNonNull(nodes, "nodes is null");
        this.thisNode = requireNonNull(thisNode, "thisNode is null");
    }

    public void register(Routes routes) {
        routes.get("/admin/cluster", (request, response) -> {
            auth.require(request);
            List<ClusterNodes.Node> live = nodes.live();
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("node", thisNode);
            body.put("nodes", live.stream().map(ClusterNodes.Node::body).toList());
            body.put("jobs", ClusterNodes.holders(live));
            Json.ok(response, body);
        });
    }
}

package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.cluster.ClusterNodes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code silo cluster}: the live nodes on this catalog and the jobs each holds, as {@code GET /admin/cluster}. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = {"List the live nodes on this catalog (heartbeat within 30 s) and the jobs each holds.",
                "Cluster jobs run on the one node holding their lease; node jobs run on every node that has them."})
public final class ClusterCommand implements Callable<Integer> {
    private final Map<String, String> env;
    private final PrintStream out;

    @Mixin
    CoreOptions core;

    public ClusterCommand(Map<String, String> env, PrintStream out) {
        this.env = env;
        this.out = out;
    }

    @Override
    public Integer call() {
        try (SiloCore silo = core.open(env)) {
            List<ClusterNodes.Node> live = new ClusterNodes(silo.catalog()).live();
            if (core.json) {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("nodes", live.stream().map(ClusterNodes.Node::body).toList());
                body.put("jobs", ClusterNodes.holders(live));
                Output.json(out, body);
            } else {
                List<Map<String, ?>> rows = live.stream().<Map<String, ?>>map(node -> {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("id", node.id());
                    row.put("host", node.host());
                    row.put("version", node.version());
                    row.put("started_at", node.startedAt());
                    row.put("last_seen", node.lastSeen());
                    row.put("jobs", node.jobs().isEmpty() ? "-" : String.join(",", node.jobs()));
                    return row;
                }).toList();
                Output.table(out, List.of("id", "host", "version", "started_at", "last_seen", "jobs"), rows);
                ClusterNodes.holders(live).forEach((job, holder) -> {
                    if (holder == null) {
                        out.println("cluster job " + job + " is held by no live node (taken over within seconds)");
                    }
                });
            }
            return 0;
        }
    }
}

package bench;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Row 18 (issue 18, "Benchmark"): {@code GET /t/{tenant}/me} and record reads by id with the load spread
 * round-robin by the client over the {@link Cluster}'s nodes (connection {@code w} to node {@code w mod n}, one
 * catalog, the tenant on node A's embedded PostgreSQL), against the same load, connections and phase time on node A
 * alone. Measured in alternating windows (one node, all nodes, all nodes, one node), after one unmeasured pass over
 * all nodes, so both sides meet the same machine. The client, every node and PostgreSQL share the machine's cores:
 * on 2 cores this measures what clustering costs (a second JVM on the same cores, its own pools and caches), not a
 * speed-up.
 */
final class NodesRows {
    private static final int WINDOWS_PER_SIDE = 2;

    private final Harness harness;
    private final Options options;

    NodesRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure(Cluster cluster) {
        BenchTenant tenant = cluster.features().tenant();
        int n = cluster.nodes().size();
        Measured[] oneMe = {Measured.error("not measured")};
        Measured manyMe = harness.attempt("GET /t/{tenant}/me over " + n + " nodes vs 1, alternating windows", () -> {
            String token = cluster.features().login(tenant.slug(), tenant.email());
            List<List<byte[]>> requests = new ArrayList<>();
            for (URI node : cluster.uris()) {
                requests.add(List.of(Load.get(node, "/t/" + tenant.slug() + "/me", token)));
            }
            Measured[] both = compare(cluster.uris(), requests);
            oneMe[0] = both[0];
            return both[1];
        });
        if (!manyMe.ok()) {
            oneMe[0] = manyMe;
        }
        add("`GET /t/{tenant}/me`", n, manyMe, oneMe[0]);

        Measured[] oneRead = {Measured.error("not measured")};
        Measured manyRead = harness.attempt("record reads over " + n + " nodes vs 1, alternating windows", () -> {
            String token = cluster.features().login(tenant.slug(), tenant.email());
            List<List<byte[]>> requests = new ArrayList<>();
            for (URI node : cluster.uris()) {
                requests.add(tenant.recordIds().stream()
                        .map(id -> Load.get(node, Features.recordPath(tenant.slug(), id), token)).toList());
            }
            Measured[] both = compare(cluster.uris(), requests);
            oneRead[0] = both[0];
            return both[1];
        });
        if (!manyRead.ok()) {
            oneRead[0] = manyRead;
        }
        add("record reads by id (" + tenant.recordIds().size() + " records, in turn)", n, manyRead, oneRead[0]);
    }

    private void add(String what, int n, Measured many, Measured one) {
        Row row = harness.row("18", what + ", load round-robin over " + n + " nodes (one catalog) vs node A alone, "
                + "alternating windows (ratio: " + n + " nodes ÷ 1)", many, one);
        String remark = "the client, the " + n + " nodes and PostgreSQL share these " + Machine.cores() + " cores"
                + (Machine.cores() <= 2 ? ": this shows what clustering costs, not a speed-up" : "")
                + "; reference = node A alone, same connections";
        harness.add(new Row(row.id(), row.name(), row.silo(), row.raw(), row.ratio(), remark + "; " + row.notes()));
    }

    /** [node A alone, all nodes]: one warm pass over all nodes, then alternating windows. */
    private Measured[] compare(List<URI> nodes, List<List<byte[]>> requests) throws Exception {
        Side one = new Side(List.of(nodes.get(0)), List.of(requests.get(0)), "node A alone");
        Side many = new Side(nodes, requests, nodes.size() + " nodes, connection w to node w mod " + nodes.size());
        many.window(options.warmup(), false); // warms every node's JIT, pools and caches
        Duration window = Duration.ofMillis(Math.max(1000, options.measure().toMillis() / WINDOWS_PER_SIDE));
        for (int w = 0; w < WINDOWS_PER_SIDE; w++) {
            Side first = w % 2 == 0 ? one : many;
            first.window(window, true);
            (first == one ? many : one).window(window, true);
        }
        return new Measured[] {one.measured(window), many.measured(window)};
    }

    /** One way of sending the load: the nodes it goes to, each with its requests; windows added up. */
    private final class Side {
        private final List<URI> nodes;
        private final List<List<byte[]>> requests;
        private final String what;
        private final AtomicLong next = new AtomicLong();
        private final List<long[]> latencies = new ArrayList<>();
        private long requestCount;
        private double seconds;
        private String cpu = "";
        private long clientNanos;
        private long siloNanos;
        private long postgresNanos;

        Side(List<URI> nodes, List<List<byte[]>> requests, String what) {
            this.nodes = nodes;
            this.requests = requests;
            this.what = what;
        }

        void window(Duration length, boolean counted) throws Exception {
            Load.Source source = (worker, i) -> {
                List<byte[]> mine = requests.get(worker % nodes.size());
                return mine.get((int) (next.getAndIncrement() % mine.size()));
            };
            Load.Result result = counted
                    ? Load.run(nodes, options.connections(), Duration.ofMillis(200), length, source)
                    : Load.run(nodes, options.connections(), length, Duration.ofMillis(200), source);
            if (result.errors() > 0 || counted) {
                result.measured("", "req/s", options.connections() + " connections, " + what); // fails on errors
            }
            if (counted) {
                requestCount += result.requests();
                seconds += result.seconds();
                latencies.add(result.latencies().sorted());
                cpu = result.cpu();
                Cpu before = result.cpuBefore();
                Cpu after = result.cpuAfter();
                clientNanos += after.clientNanos() - before.clientNanos();
                siloNanos += after.siloNanos() - before.siloNanos();
                postgresNanos += Math.max(0, after.postgresNanos() - before.postgresNanos());
            }
        }

        /** "client 40 µs, silo 60 µs (all nodes), pg 10 µs": CPU time per request over the counted windows. */
        String perRequest() {
            return String.format(Locale.ROOT, "CPU per request: client %.0f µs, silo %.0f µs (all nodes), pg %.0f µs",
                    clientNanos / 1e3 / requestCount, siloNanos / 1e3 / requestCount, postgresNanos / 1e3 / requestCount);
        }

        Measured measured(Duration window) {
            long[] all = latencies.stream().flatMapToLong(Arrays::stream).toArray();
            return Measured.throughput("", requestCount / seconds, "req/s", Latencies.of(all, all.length),
                    options.connections() + " connections, " + what + ", " + WINDOWS_PER_SIDE + " windows of "
                            + window.toMillis() / 1000.0 + " s; " + perRequest() + "; last window " + cpu);
        }
    }
}

package bench;

import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static java.util.Objects.requireNonNull;

/**
 * The nodes of rows 18 and 19 (issue 18), none of them the main Silo: node A, a Silo started for these rows on a
 * fresh data directory (its embedded PostgreSQL holds the catalog and is the {@code embedded} placement), and nodes
 * B, C, ... started with {@code SILO_DATABASE_URL} on A's catalog (as the superuser of A's embedded server, whose
 * password the harness unwraps as for pgbench, {@code verify-full} against A's CA) and A's master key file: for every
 * node the embedded placement is then A's server. All have the same {@code SILO_PUBLIC_URL}, so a token issued by one
 * node is accepted by all (one issuer behind a load balancer, README "Running several nodes"). Nothing but a JDK is
 * needed: no PostgreSQL server of the machine.
 *
 * <p>For row 19 a third kind of Silo, the move target, is started after them: only its
 * embedded PostgreSQL is used, registered as placement {@link #TARGET_PLACEMENT}. Everything is stopped by
 * {@link #close}: the nodes on A's catalog, then node A and the target.
 */
final class Cluster implements AutoCloseable {
    static final String PUBLIC_URL = "https://silo.bench.example";
    static final String TARGET_PLACEMENT = "bench-target";

    private final Harness harness;
    private final Options options;
    private final List<SiloProcess> nodes = new ArrayList<>();
    private SiloProcess target;
    private Features features;
    private final List<Api> apis = new ArrayList<>();

    private Cluster(Harness harness) {
        this.harness = requireNonNull(harness, "harness is null");
        this.options = harness.options();
    }

    /**
     * Starts {@code options.clusterNodes()} nodes (and the move target when {@code withTarget}), probes the features
     * on node A (a tenant with an admin, a token and records) and checks that every node serves that tenant with
     * A's token. Throws on any failure, after stopping what it started.
     */
    static Cluster start(Harness harness, boolean withTarget) throws Exception {
        Cluster cluster = new Cluster(harness);
        try {
            cluster.startNodes(withTarget);
            return cluster;
        } catch (Exception | Error e) {
            cluster.close();
            throw e;
        }
    }

    private void startNodes(boolean withTarget) throws Exception {
        SiloProcess a = new SiloProcess(options, "node-a", Map.of("SILO_PUBLIC_URL", PUBLIC_URL));
        nodes.add(a);
        // One start at a time: on a saturated machine parallel first starts (initdb each) ran into the 180 s limit.
        harness.progress("cluster: starting node A (fresh data directory)");
        startAll(List.of(a));
        Map<String, String> shared = Map.of(
                "SILO_PUBLIC_URL", PUBLIC_URL,
                "SILO_DATABASE_URL", catalogUrl(a),
                "SILO_MASTER_KEY_FILE", a.dataDir().resolve("master.key").toString());
        List<SiloProcess> others = new ArrayList<>();
        for (int i = 1; i < options.clusterNodes(); i++) {
            SiloProcess node = new SiloProcess(options, "node-" + (char) ('a' + i), shared);
            nodes.add(node);
            others.add(node);
        }
        harness.progress("cluster: starting " + others.size() + " more node" + (others.size() == 1 ? "" : "s")
                + " on node A's catalog");
        startAll(others, 3);
        if (withTarget) {
            target = new SiloProcess(options, "move-target", Map.of());
            harness.progress("cluster: starting the move target (fresh data directory)");
            startAll(List.of(target));
        }
        for (SiloProcess node : nodes) {
            apis.add(new Api(node.baseUri()));
        }
        Cpu.init(nodes.toArray(SiloProcess[]::new));
        List<String> probeErrors = new ArrayList<>();
        features = Features.probe(apis.get(0), a, options, harness::progress, probeErrors);
        if (!probeErrors.isEmpty()) {
            throw new Fatal("the feature probe on node A: " + String.join("; ", probeErrors));
        }
        for (Feature feature : List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.ME, Feature.RECORDS)) {
            Optional<String> missing = features.missing(feature);
            if (missing.isPresent()) {
                throw new NotYet(feature.description + ": " + missing.get());
            }
        }
        BenchTenant tenant = features.tenant();
        for (int i = 1; i < apis.size(); i++) {
            Reply me = apis.get(i).call("GET", "/t/" + tenant.slug() + "/me", null, tenant.token());
            if (me.status() != 200) {
                throw new Fatal("node " + (char) ('A' + i) + " answered " + me.status() + " to GET /t/" + tenant.slug()
                        + "/me with node A's token (one SILO_PUBLIC_URL for all): " + Format.abbreviate(me.body()));
            }
        }
        harness.progress("cluster: " + nodes.size() + " nodes serve tenant " + tenant.slug());
    }

    /** Node A's catalog as the superuser of its embedded PostgreSQL: what the other nodes get as SILO_DATABASE_URL. */
    private static String catalogUrl(SiloProcess a) {
        return "postgres://postgres:" + encode(a.superuserPassword()) + "@localhost:" + a.postgresPort() + "/"
                + dev.silo.app.Silo.CATALOG_DATABASE + "?sslmode=verify-full&sslrootcert=" + encode(a.caCertificate().toString());
    }

    /** For a postgres:// URL: Silo's parser reads '+' as itself, so spaces are %20. */
    static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** Starts the processes at once (each waits for its own "ready" line); the first failure is thrown. */
    static void startAll(List<SiloProcess> processes) throws Exception {
        startAll(processes, 1);
    }

    /**
     * As {@link #startAll(List)}, each process tried up to {@code attempts} times when it exits before it is ready: a
     * node on another's catalog gives up at start when its first catalog connection (TLS, SCRAM) takes over 5 s,
     * which a fresh JVM on a saturated 2-core machine can (seen in a quick run at load average 36).
     */
    static void startAll(List<SiloProcess> processes, int attempts) throws Exception {
        try (ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> started = new ArrayList<>();
            for (SiloProcess process : processes) {
                started.add(executor.submit(() -> {
                    for (int attempt = 1; ; attempt++) {
                        try {
                            process.start();
                            return null;
                        } catch (Fatal e) {
                            if (attempt >= attempts || !e.getMessage().contains("before it was ready")) {
                                throw e;
                            }
                            System.err.println("bench: " + process.dataDir().getFileName() + " exited before it was ready ("
                                    + SiloProcess.tail(e.getMessage(), 1) + "); starting it again");
                            Thread.sleep(1000);
                        }
                    }
                }));
            }
            for (Future<?> future : started) {
                try {
                    future.get();
                } catch (ExecutionException e) {
                    throw e.getCause() instanceof Exception cause ? cause : new Fatal(e.getCause().toString());
                }
            }
        }
    }

    List<SiloProcess> nodes() {
        return nodes;
    }

    /** The nodes' APIs, node A first. */
    List<Api> apis() {
        return apis;
    }

    List<URI> uris() {
        return apis.stream().map(Api::base).toList();
    }

    /** The features probed on node A, with its tenant (admin, token, records) and the operator key. */
    Features features() {
        return features;
    }

    /** The Silo whose embedded PostgreSQL row 19 moves the tenant to, or null when not started. */
    SiloProcess target() {
        return target;
    }

    /** Stops the processes at once (each SIGTERM, then its own bounded wait). */
    static void stopAll(List<SiloProcess> processes) {
        List<Thread> stopping = processes.stream().map(process -> Thread.ofVirtual().start(process::stop)).toList();
        for (Thread thread : stopping) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * The nodes on A's catalog first (while it is still there to say goodbye to), then node A and the move target;
     * the CPU notes count the main Silo again.
     */
    @Override
    public void close() {
        stopAll(nodes.size() > 1 ? nodes.subList(1, nodes.size()) : List.of());
        List<SiloProcess> last = new ArrayList<>(nodes.subList(0, Math.min(1, nodes.size())));
        if (target != null) {
            last.add(target);
        }
        stopAll(last);
        Cpu.init(harness.silo());
    }
}

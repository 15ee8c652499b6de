package bench;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * Silo's benchmark harness (issue 6), compiled and run by {@code bench/run} with {@code target/silo.jar} on the
 * class path, so the raw limits (bcrypt, HS256, PostgreSQL) are measured with the same libraries, on the same
 * machine, in the same run as Silo's own figures.
 *
 * <p>It starts Silo as a child process on a fresh data directory (embedded PostgreSQL), probes which features
 * have landed (see {@link Features}), measures every row it can (one class per row family: {@link CoreRows},
 * {@link WalRows}, ...), prints one Markdown table ({@link Report}) and exits 1 on any error (never on slowness).
 * Rows whose feature is missing say "not available yet". See docs/benchmarks.md.
 */
public final class Bench {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PASSWORD = "bench-password-correct-horse-battery";
    static final String COLLECTION = "bench";
    /** Silo's default SILO_TENANT_CONNECTIONS: past this many tenants in use at once, connections churn. */
    static final int TENANT_BUDGET = 64;

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(2);
            return;
        }
        int status;
        try {
            status = new Bench(options).run();
        } catch (Fatal e) {
            System.err.println("bench: FAILED: " + e.getMessage());
            status = 1;
        }
        System.exit(status);
    }

    private final Options options;
    private final Map<String, String> header = new LinkedHashMap<>();

    Bench(Options options) {
        this.options = requireNonNull(options, "options is null");
    }

    /** The load rows that run before row 10's second sample, for its name. */
    private String loadRowsRan() {
        java.util.List<String> ran = java.util.stream.Stream.of("1", "2", "3", "4", "5", "6", "7", "8", "9")
                .filter(options::wants).toList();
        return ran.isEmpty() ? "none ran" : (ran.size() == 1 ? "row " : "rows ") + String.join(", ", ran);
    }

    /** Rows 18 and 19 on one {@link Cluster} (its nodes, and the move target when row 19 runs), stopped after them. */
    private void clusterRows(Harness harness) {
        Cluster[] cluster = new Cluster[1];
        Measured started = harness.attempt("starting " + options.clusterNodes() + " Silo nodes on one catalog", () -> {
            cluster[0] = Cluster.start(harness, options.wants("19"));
            return null;
        });
        if (started != null) {
            String note = started.notes() == null ? "" : started.notes();
            if (options.wants("18")) {
                harness.add(new Row("18", "`GET /t/{tenant}/me` and record reads over " + options.clusterNodes()
                        + " nodes vs 1", started.cell(), "—", "—", note));
            }
            if (options.wants("19")) {
                harness.add(new Row("19", "tenant move under writes", started.cell(), "—", "—", note));
            }
            return;
        }
        try (Cluster nodes = cluster[0]) {
            if (options.wants("18")) {
                new NodesRows(harness).measure(nodes);
            }
            if (options.wants("19")) {
                new MoveRows(harness).measure(nodes);
            }
        }
    }

    int run() throws Exception {
        Instant started = Instant.now();
        header.put("date", DateTimeFormatter.ISO_INSTANT.format(started.truncatedTo(ChronoUnit.SECONDS)));
        header.put("command", "`" + options.commandLine() + "`");
        header.put("machine", Machine.describe());
        header.put("JDK", System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.version")
                + " (client and Silo run on the same JDK)");
        header.put("Silo", Machine.siloVersion(options.jar()));
        header.put("settings", "warm-up " + Format.seconds(options.warmup()) + ", measured " + Format.seconds(options.measure())
                + " per phase; " + options.connections() + " HTTP connections; bcrypt cost " + options.bcryptCost()
                + " (passed to Silo as SILO_BCRYPT_COST); pgbench scale " + options.pgbenchScale() + ", "
                + options.pgbenchClients() + " clients");

        SiloProcess silo = new SiloProcess(options);
        Harness harness = new Harness(options, silo);
        Thread hook = new Thread(silo::stop, "bench-stop-silo");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            if (options.wants("10") || options.wants("11")) {
                // Before the main Silo, so that it runs with the archive as ./silo serve does after its first stop.
                harness.attempt("class data sharing archive", () -> StartRows.ensureClassArchive(options));
            }
            silo.start();
            MemoryRows memory = new MemoryRows(harness);
            if (options.wants("10")) {
                Thread.sleep(2000); // let the JVM settle after "ready"
                memory.sampleIdle(silo);
            }
            try (Postgres postgres = Postgres.connect(silo)) {
                header.put("PostgreSQL", postgres.version() + " (embedded, TLS only, fsync on)");
                header.put("load", "HTTP: closed-loop driver in bench/src/bench/Load.java (virtual threads, one keep-alive "
                        + "HTTP/1.1 connection each); client and server share the same " + Machine.cores()
                        + " cores, so the CPU each side used is in the notes (in cores)");
                ConnectionSampler sampler = new ConnectionSampler(silo);
                sampler.start();
                try {
                    Cpu.init(silo);
                    Api api = new Api(silo.baseUri());
                    Features features = Features.probe(api, silo, options, harness::progress, harness.errors());
                    TenantRestoreRows restores = new TenantRestoreRows(api, features, options, harness::progress);
                    if (options.wants("8")) {
                        restores.measure("few");
                    }
                    if (options.wants("1", "2", "3", "4", "5")) {
                        new CoreRows(harness).measure(silo, postgres, api, features, sampler);
                    }
                    if (options.wants("6")) {
                        new WalRows(harness).measure(api, features);
                    }
                    if (options.wants("7")) {
                        new RateLimitRows(harness).measure(api, features);
                    }
                    if (options.wants("8")) {
                        restores.measure("many");
                        harness.rows().addAll(restores.rows());
                    }
                    if (options.wants("9")) {
                        new LatencyRows(harness).measure(api, features);
                    }
                    if (options.wants("10")) {
                        memory.addRows(silo, loadRowsRan());
                    }
                    if (options.wants("11")) {
                        new StartRows(harness).measure();
                    }
                    if (options.wants("12")) {
                        new BackupRows(harness).measure(api, features);
                    }
                    if (options.wants("13")) {
                        new ProvisionRows(harness).measure();
                    }
                    if (options.wants("14")) {
                        new ZipfRows(harness).measure(silo, postgres, api, features, sampler);
                    }
                    if (options.wants("15")) {
                        new TelemetryRows(harness).measure();
                    }
                    if (options.wants("16")) {
                        new MfaRows(harness).measure(api, features);
                    }
                    if (options.wants("17")) {
                        new IntrospectionRows(harness).measure(api, features);
                    }
                    if (options.wants("18", "19")) {
                        clusterRows(harness);
                    }
                    if (options.wants("20")) {
                        new ReadyRows(harness).measure();
                    }
                    header.put("peak server connections", sampler.overallPeak()
                            + " client backends during the whole run (sampled every 100 ms)");
                } finally {
                    sampler.close();
                }
            }
        } catch (Fatal e) {
            harness.errors().add(e.getMessage());
        } finally {
            silo.stop();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down
            }
        }
        if (!harness.errors().isEmpty() && silo.started()) {
            silo.saveLogOnFailure(options.outDir());
        }
        header.put("duration", Format.seconds(Duration.between(started, Instant.now())));
        String report = Report.render(options, header, harness.rows(), harness.errors());
        System.out.println(report);
        Report.write(options, report);
        if (!harness.errors().isEmpty()) {
            System.err.println("bench: FAILED with " + harness.errors().size() + " error(s); see the Errors section above");
            return 1;
        }
        return 0;
    }
}

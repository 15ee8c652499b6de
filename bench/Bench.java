import at.favre.lib.crypto.bcrypt.BCrypt;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import org.postgresql.PGConnection;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static java.util.Objects.requireNonNull;

/**
 * Silo's benchmark harness (issue 6), run by {@code bench/run} with the JDK source launcher and
 * {@code target/silo.jar} on the class path, so the raw limits (bcrypt, HS256, PostgreSQL) are measured with
 * the same libraries, on the same machine, in the same run as Silo's own figures.
 *
 * <p>It starts Silo as a child process on a fresh data directory (embedded PostgreSQL), probes which features
 * have landed (see {@link Features}), measures every row it can, prints one Markdown table and exits 1 on any
 * error (never on slowness). Rows whose feature is missing say "not available yet". See docs/benchmarks.md.
 */
public final class Bench {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PASSWORD = "bench-password-correct-horse-battery";
    static final String COLLECTION = "bench";

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

    // ---------------------------------------------------------------------------------------------------------
    // Options

    record Options(boolean quick, Path jar, Path work, Path outDir, Optional<Path> pgbench, String commandLine,
                   Duration warmup, Duration measure, int connections, int bcryptCost, int provisionTenants,
                   int rawProvisionDatabases, List<Integer> tenantLevels, int pgbenchScale, int pgbenchClients,
                   java.util.Set<String> rowIds) {

        /** Whether any of {@code ids} was asked for ({@code --rows}; all when not given). */
        boolean wants(String... ids) {
            return rowIds.isEmpty() || java.util.Arrays.stream(ids).anyMatch(rowIds::contains);
        }

        static Options parse(String[] args) {
            boolean quick = false;
            Path jar = null, work = null, outDir = null;
            Optional<Path> pgbench = Optional.empty();
            String commandLine = "bench/run";
            Double warmup = null, measure = null;
            Integer connections = null, cost = null, provision = null, scale = null;
            List<Integer> levels = null;
            java.util.Set<String> rowIds = java.util.Set.of();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                switch (arg) {
                    case "--quick" -> quick = true;
                    case "--jar" -> jar = Path.of(value(args, ++i, arg));
                    case "--work" -> work = Path.of(value(args, ++i, arg));
                    case "--out" -> outDir = Path.of(value(args, ++i, arg));
                    case "--pgbench" -> {
                        String p = value(args, ++i, arg);
                        pgbench = p.isBlank() ? Optional.empty() : Optional.of(Path.of(p));
                    }
                    case "--command-line" -> commandLine = value(args, ++i, arg);
                    case "--warmup" -> warmup = Double.parseDouble(value(args, ++i, arg));
                    case "--duration" -> measure = Double.parseDouble(value(args, ++i, arg));
                    case "--connections" -> connections = Integer.parseInt(value(args, ++i, arg));
                    case "--bcrypt-cost" -> cost = Integer.parseInt(value(args, ++i, arg));
                    case "--provision" -> provision = Integer.parseInt(value(args, ++i, arg));
                    case "--pgbench-scale" -> scale = Integer.parseInt(value(args, ++i, arg));
                    case "--tenants" -> levels = Stream.of(value(args, ++i, arg).split(","))
                            .map(String::strip).map(Integer::parseInt).toList();
                    case "--rows" -> rowIds = Stream.of(value(args, ++i, arg).split(",")).map(String::strip)
                            .collect(java.util.stream.Collectors.toUnmodifiableSet());
                    default -> throw new IllegalArgumentException("unknown option " + arg + " (see bench/run --help)");
                }
            }
            if (jar == null || work == null || outDir == null) {
                throw new IllegalArgumentException("--jar, --work and --out are required (bench/run passes them)");
            }
            int bcryptCost = cost != null ? cost : quick ? 10 : 12;
            if (bcryptCost < 10 || bcryptCost > 16) {
                throw new IllegalArgumentException("--bcrypt-cost must be 10..16 (Silo never accepts below 10)");
            }
            List<Integer> tenantLevels = levels != null ? levels : quick ? List.of(1, 10) : List.of(1, 100, 1000);
            if (tenantLevels.isEmpty() || tenantLevels.stream().anyMatch(n -> n < 1)) {
                throw new IllegalArgumentException("--tenants takes positive counts, such as 1,100,1000");
            }
            return new Options(quick, jar, work, outDir, pgbench, commandLine,
                    seconds(warmup != null ? warmup : quick ? 1 : 5),
                    seconds(measure != null ? measure : quick ? 2 : 15),
                    connections != null ? connections : quick ? 16 : 64,
                    bcryptCost,
                    provision != null ? provision : quick ? 5 : 100,
                    quick ? 3 : 30,
                    tenantLevels,
                    scale != null ? scale : quick ? 1 : 10,
                    8,
                    rowIds);
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static Duration seconds(double s) {
            if (s <= 0) {
                throw new IllegalArgumentException("durations must be positive");
            }
            return Duration.ofMillis(Math.round(s * 1000));
        }

        /** pgbench takes whole seconds. */
        int pgbenchSeconds(Duration d) {
            return (int) Math.max(1, Math.round(d.toMillis() / 1000.0));
        }
    }

    /** An error that ends the run: Silo did not start, the machine lacks something required, ... */
    static final class Fatal extends RuntimeException {
        Fatal(String message) {
            super(message);
        }

        Fatal(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A feature that is not there yet: its rows print "not available yet". */
    static final class NotYet extends RuntimeException {
        NotYet(String message) {
            super(message, null, false, false);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The run

    private final Options options;
    private final List<Row> rows = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();
    private final Map<String, String> header = new LinkedHashMap<>();
    private SiloProcess siloProcess;

    Bench(Options options) {
        this.options = requireNonNull(options, "options is null");
    }

    record Row(String id, String name, String silo, String raw, String ratio, String notes) {}

    int run() throws Exception {
        Instant started = Instant.now();
        header.put("date", DateTimeFormatter.ISO_INSTANT.format(started.truncatedTo(ChronoUnit.SECONDS)));
        header.put("command", "`" + options.commandLine() + "`");
        header.put("machine", Machine.describe());
        header.put("JDK", System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.version")
                + " (client and Silo run on the same JDK)");
        header.put("Silo", Machine.siloVersion(options.jar()));
        header.put("settings", "warm-up " + seconds(options.warmup()) + ", measured " + seconds(options.measure())
                + " per phase; " + options.connections() + " HTTP connections; bcrypt cost " + options.bcryptCost()
                + " (passed to Silo as SILO_BCRYPT_COST); pgbench scale " + options.pgbenchScale() + ", "
                + options.pgbenchClients() + " clients");

        SiloProcess silo = new SiloProcess(options);
        siloProcess = silo;
        Thread hook = new Thread(silo::stop, "bench-stop-silo");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            silo.start();
            try (Postgres postgres = Postgres.connect(silo)) {
                header.put("PostgreSQL", postgres.version() + " (embedded, TLS only, fsync on)");
                header.put("load", "HTTP: closed-loop driver in bench/Bench.java (virtual threads, one keep-alive "
                        + "HTTP/1.1 connection each); client and server share the same " + Machine.cores()
                        + " cores, so the CPU each side used is in the notes (in cores)");
                ConnectionSampler sampler = new ConnectionSampler(silo);
                sampler.start();
                try {
                    Cpu.init(silo);
                    Api api = new Api(silo.baseUri());
                    Features features = Features.probe(api, silo, options, this::progress, errors);
                    TenantRestoreBench restores = new TenantRestoreBench(api, features, options, this::progress);
                    if (options.wants("8")) {
                        restores.measure("few");
                    }
                    if (options.wants("1", "2", "3", "4", "5")) {
                        measureAll(silo, postgres, api, features, sampler);
                    }
                    if (options.wants("6")) {
                        walRows(api, features);
                    }
                    if (options.wants("7")) {
                        rateLimitRows(api, features);
                    }
                    if (options.wants("8")) {
                        restores.measure("many");
                        rows.addAll(restores.rows());
                    }
                    header.put("peak server connections", sampler.overallPeak()
                            + " client backends during the whole run (sampled every 100 ms)");
                } finally {
                    sampler.close();
                }
            }
        } catch (Fatal e) {
            errors.add(e.getMessage());
        } finally {
            silo.stop();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down
            }
        }
        if (!errors.isEmpty() && silo.started()) {
            silo.saveLogOnFailure(options.outDir());
        }
        header.put("duration", seconds(Duration.between(started, Instant.now())));
        String report = render();
        System.out.println(report);
        writeReport(report);
        if (!errors.isEmpty()) {
            System.err.println("bench: FAILED with " + errors.size() + " error(s); see the Errors section above");
            return 1;
        }
        return 0;
    }

    /** Silo's default SILO_TENANT_CONNECTIONS: past this many tenants in use at once, connections churn. */
    static final int TENANT_BUDGET = 64;

    private void measureAll(SiloProcess silo, Postgres postgres, Api api, Features features, ConnectionSampler sampler) {
        // Raw limits first, while Silo is idle, so they do not compete with its warm-up.
        Measured bcrypt1 = attempt("raw bcrypt, 1 thread", () -> Raw.bcrypt(options, 1));
        Measured bcrypt2 = attempt("raw bcrypt, 2 threads", () -> Raw.bcrypt(options, 2));
        Measured hs1 = attempt("raw HS256, 1 thread", () -> Raw.hs256(options, 1));
        Measured hs2 = attempt("raw HS256, 2 threads", () -> Raw.hs256(options, 2));

        // 1. login
        for (int threads : new int[] {1, 2}) {
            Measured raw = threads == 1 ? bcrypt1 : bcrypt2;
            Measured measured = siloRow("login, " + threads + " client thread" + (threads == 1 ? "" : "s"), features,
                    List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN),
                    () -> SiloRows.login(api, features, options, threads));
            rows.add(row("1", "login, " + threads + " client thread" + (threads == 1 ? "" : "s")
                            + " (logins/s vs bcrypt verify/s, cost " + options.bcryptCost() + ")",
                    measured, raw));
        }

        // 2. token check
        Measured live = attempt("GET /health/live", () -> SiloRows.trivialRoute(api, options));
        Measured me = siloRow("GET /t/{tenant}/me", features, List.of(Feature.TENANTS, Feature.TENANT_ADMINS,
                Feature.LOGIN, Feature.ME), () -> SiloRows.me(api, features, options));
        rows.add(row("2", "token check: authenticated `GET /t/{tenant}/me` vs unauthenticated `GET /health/live`",
                me, live));
        Measured hs = hs2.ok() && hs1.ok()
                ? new Measured(hs2.label(), hs2.rate(), hs2.unit(), hs2.cell() + " (1 thread: " + Format.rate(hs1.rate()) + " /s)",
                        hs2.notes(), null, null)
                : hs2.ok() ? hs1 : hs2;
        rows.add(row("2", "token check: `GET /t/{tenant}/me` vs raw HS256 verify (Nimbus, 2 threads)", me, hs));

        // 3. records
        Optional<Path> pgbench = options.pgbench();
        Measured pgRead;
        Measured pgWrite;
        Measured pgConnect;
        if (pgbench.isEmpty()) {
            pgRead = Measured.skipped("no pgbench on this machine (Debian: apt-get install postgresql-client); "
                    + "the raw side of row 3 is skipped");
            pgWrite = pgRead;
            pgConnect = pgRead;
        } else {
            Measured init = attempt("pgbench -i", () -> {
                Raw.pgbenchInit(options, silo, postgres, pgbench.get());
                return null;
            });
            if (init != null && init.error() != null) {
                pgRead = init;
                pgWrite = init;
                pgConnect = init;
            } else {
                pgRead = attempt("pgbench -S", () -> Raw.pgbench(options, silo, pgbench.get(), "select-only",
                        List.of("-S", "-M", "prepared")));
                pgWrite = attempt("pgbench INSERT", () -> Raw.pgbench(options, silo, pgbench.get(), "insert",
                        List.of("-M", "prepared", "-f", Raw.insertScript(options).toString())));
                // The raw side of row 5 when more tenants are in use than the budget has connections: every
                // request then needs a new connection (TLS handshake, authentication, a new backend).
                pgConnect = options.tenantLevels().stream().anyMatch(level -> level > TENANT_BUDGET)
                        ? attempt("pgbench -C -S", () -> Raw.pgbench(options, silo, pgbench.get(), "connect-per-select",
                                List.of("-S", "-C")))
                        : Measured.skipped("no tenant level above the budget of " + TENANT_BUDGET);
            }
        }
        List<Feature> recordFeatures = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.RECORDS);
        Measured read = siloRow("record reads", features, recordFeatures,
                () -> SiloRows.recordReads(api, features, options, List.of(features.tenant()), "1 tenant"));
        Measured write = siloRow("record writes", features, recordFeatures,
                () -> SiloRows.recordWrites(api, features, options));
        rows.add(row("3", "records: read by id (req/s vs `pgbench -S` tps)", read, pgRead));
        // What bounds row 3 on one machine: a record read does all that /me does (HTTP, token, tenant) and then a
        // database round trip, and no HTTP route, however trivial, goes faster than /health/live.
        rows.add(row("3", "records: read by id vs authenticated `GET /t/{tenant}/me` (the share left after the database read)",
                read, me));
        rows.add(row("3", "ceiling: unauthenticated `GET /health/live` vs `pgbench -S` (no HTTP route can beat this ratio)",
                live, pgRead));
        rows.add(row("3", "records: create (req/s vs plain INSERT tps, same PostgreSQL)", write, pgWrite));

        // 4. provisioning
        Measured rawProvision = attempt("raw provisioning", () -> Raw.provisioning(options, postgres));
        Measured provision = siloRow("provisioning", features, List.of(Feature.TENANTS),
                () -> SiloRows.provisioning(api, features, options));
        rows.add(row("4", "provisioning: tenant creation p50/p95 (vs role + database + REVOKE over SQL)",
                provision, rawProvision));

        // 5. many tenants
        Measured base = null;
        for (int level : options.tenantLevels()) {
            Measured measured = siloRow("many tenants " + level, features, recordFeatures,
                    () -> SiloRows.manyTenants(api, features, options, level, sampler));
            boolean churn = level > TENANT_BUDGET;
            Measured reference = churn ? pgConnect
                    : base != null ? base
                    : pgRead.ok() ? pgRead.asReference("`pgbench -S`", "as in row 3")
                    : pgRead;
            String name = "many tenants: record reads, " + level + " tenant" + (level == 1 ? "" : "s")
                    + " round-robin (vs " + (churn ? "`pgbench -C -S`, a new connection per select"
                    : base != null ? "1st level" : "`pgbench -S`") + ")";
            rows.add(row("5", name, measured, reference));
            if (base == null && measured.error() == null && measured.rate() > 0) {
                base = measured.asReference("Silo, " + level + " tenant" + (level == 1 ? "" : "s"), null);
            }
        }
        tenantHealthRows(api, features, options, pgRead, pgConnect, sampler);
    }

    /**
     * Row 5 of issue 3: the connection budget under many tenants. {@code GET /t/{tenant}/health} runs one query as
     * each tenant's own role, so round-robin over N tenants makes Silo open and close tenant pools; the peak of
     * server connections must stay at or under the budget (SILO_TENANT_CONNECTIONS, 64).
     */
    private void tenantHealthRows(Api api, Features features, Options options, Measured pgRead, Measured pgConnect,
                                  ConnectionSampler sampler) {
        for (int level : options.tenantLevels()) {
            Measured measured = siloRow("tenant health " + level, features, List.of(Feature.TENANTS),
                    () -> SiloRows.tenantHealth(api, features, options, level, sampler));
            boolean churn = level > TENANT_BUDGET;
            Measured reference = churn ? pgConnect
                    : pgRead.ok() ? pgRead.asReference("`pgbench -S`", "as in row 3") : pgRead;
            rows.add(row("5", "many tenants: `GET /t/{tenant}/health` (one query as each tenant's role), " + level
                    + " tenant" + (level == 1 ? "" : "s") + " round-robin (vs "
                    + (churn ? "`pgbench -C -S`, a new connection per select" : "`pgbench -S`") + ")", measured, reference));
        }
    }

    /**
     * Row 6 (issue 12.1): WAL streaming into the backup store. The lag (`GET /admin/backups`, `wal.lag_seconds`,
     * sampled every 200 ms) under the record-write load of row 3, and record writes/s with streaming on (this
     * Silo), off ({@code SILO_BACKUP_STREAMING=off}) and synchronous ({@code SILO_BACKUP_SYNCHRONOUS=on}), each
     * of the other two a fresh Silo started for this row, one at a time, after this one went idle.
     */
    private void walRows(Api api, Features features) {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.RECORDS);
        LagSampler lag = new LagSampler(api, features.operatorKey());
        Measured on = siloRow("record writes, streaming on", features, needs, () -> lag.during(
                () -> SiloRows.recordWrites(api, features, options)));
        Measured off = otherSilo("nostream", Map.of("SILO_BACKUP_STREAMING", "off"), null, needs);
        LagSampler syncLag = new LagSampler(null, null);
        Measured sync = otherSilo("sync", Map.of("SILO_BACKUP_SYNCHRONOUS", "on"), syncLag, needs);
        rows.add(new Row("6", "WAL lag (server flush to store) p50 / p99 under record writes, streaming on (goal p99 ≤ 5 s)",
                lag.cell(), "—", "—", lag.notes()));
        rows.add(row("6", "records: create, WAL streaming on vs `SILO_BACKUP_STREAMING=off` (goal ≥ 0.9)", on, off));
        rows.add(new Row("6", "WAL lag p50 / p99 under record writes, `SILO_BACKUP_SYNCHRONOUS=on`", syncLag.cell(), "—", "—",
                syncLag.notes()));
        rows.add(row("6", "records: create, `SILO_BACKUP_SYNCHRONOUS=on` vs streaming off (each commit waits for one store put)",
                sync, off));
    }

    /**
     * Row 8 (issue 13.1): the time of a one-tenant point-in-time restore (in place, through the operator API, to the
     * job's success) and the bytes it reads from the store, once with few tenants on the server (before the other
     * rows) and once with many (after row 5 has provisioned its tenants): the goal is equal within noise, because the
     * restore reads only the tenant's own files. Each measurement takes a fresh base backup first.
     */
    static final class TenantRestoreBench {
        private final Api api;
        private final Features features;
        private final Options options;
        private final java.util.function.Consumer<String> progress;
        private final Map<String, JsonNode> results = new LinkedHashMap<>();
        private final Map<String, Double> seconds = new LinkedHashMap<>();
        private final Map<String, Integer> tenantCounts = new LinkedHashMap<>();
        private final List<String> errors = new ArrayList<>();
        private String slug;

        TenantRestoreBench(Api api, Features features, Options options, java.util.function.Consumer<String> progress) {
            this.api = api;
            this.features = features;
            this.options = options;
            this.progress = progress;
        }

        void measure(String label) {
            try {
                if (features.operatorKey() == null) {
                    throw new NotYet("no operator key");
                }
                String key = features.operatorKey();
                if (slug == null) {
                    slug = "bench-restore-" + UUID.randomUUID().toString().substring(0, 6);
                    prepare(key);
                }
                Reply probe = api.call("GET", "/admin/backups", null, key);
                if (probe.status() == 404 || probe.status() == 409) {
                    throw new NotYet("no physical backups on this Silo");
                }
                // The issue's levels: at least 10 tenants, then at least 300 (quick: 20); row 5 may have made more.
                int atLeast = label.equals("few") ? 10 : options.quick() ? 20 : 300;
                int count = countTenants(key);
                if (count < atLeast) {
                    progress.accept("row 8 (" + label + "): creating " + (atLeast - count) + " tenants");
                    for (int i = count; i < atLeast; i++) {
                        api.expect("POST", "/admin/tenants", Map.of("slug", "bench-fill-" + UUID.randomUUID().toString()
                                .substring(0, 8)), key);
                    }
                    count = atLeast;
                }
                tenantCounts.put(label, count);
                progress.accept("row 8 (" + label + "): base backup, then restore tenant " + slug + " with "
                        + tenantCounts.get(label) + " tenants on the server");
                long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
                Reply taken;
                // The node takes its first base backup by itself soon after it starts: wait for that one to end.
                while ((taken = api.call("POST", "/admin/backups", null, key)).status() == 409
                        && taken.body().contains("backup-running") && System.nanoTime() < deadline) {
                    Thread.sleep(500);
                }
                if (!taken.success()) {
                    throw new Fatal("POST /admin/backups answered " + taken.status() + ": " + abbreviate(taken.body()));
                }
                String backup = taken.json().path("id").asText();
                while (!backup.equals(api.expect("GET", "/admin/backups", null, key).path("base_backups").path("last")
                        .path("id").asText())) {
                    if (System.nanoTime() > deadline) {
                        throw new Fatal("base backup " + backup + " did not finish within 30 minutes");
                    }
                    Thread.sleep(500);
                }
                // The first restore of the run also warms Silo's restore path (class loading, JIT): unmeasured.
                int passes = results.isEmpty() ? 2 : 1;
                JsonNode state = null;
                double elapsed = 0;
                for (int pass = 0; pass < passes; pass++) {
                    Thread.sleep(1500);
                    Instant time = Instant.now();
                    Thread.sleep(1500);
                    long started = System.nanoTime();
                    JsonNode job = api.expect("POST", "/admin/tenants/" + slug + "/restore-to", Map.of("time", time.toString()), key);
                    String id = job.path("job").asText();
                    while ((state = api.expect("GET", "/admin/jobs/" + id, null, key)).path("state").asText().equals("running")) {
                        if (System.nanoTime() > deadline) {
                            throw new Fatal("restore job " + id + " did not finish within 30 minutes");
                        }
                        Thread.sleep(100);
                    }
                    elapsed = (System.nanoTime() - started) / 1e9;
                    if (!state.path("state").asText().equals("succeeded")) {
                        throw new Fatal("restore job " + id + " failed: " + state.path("error").asText());
                    }
                }
                results.put(label, state.path("result"));
                seconds.put(label, elapsed);
            } catch (NotYet e) {
                errors.add("not available yet: " + e.getMessage());
            } catch (Fatal e) {
                errors.add(e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                errors.add("interrupted");
            }
        }

        /** The tenant restored: an admin and a collection of records, ~1 KiB each. */
        private void prepare(String key) throws InterruptedException {
            api.expect("POST", "/admin/tenants", Map.of("slug", slug), key);
            api.expect("POST", "/admin/tenants/" + slug + "/admins", Map.of("email", "restore@bench.example", "password", PASSWORD), key);
            String token = api.expect("POST", "/t/" + slug + "/auth/login", Map.of("email", "restore@bench.example",
                    "password", PASSWORD), null).path("access_token").asText();
            api.expect("PUT", "/t/" + slug + "/collections/" + COLLECTION, Map.of(), token);
            int records = options.quick() ? 200 : 90_000; // full: ~100 MB, the size the issue sets a goal for
            String padding = "x".repeat(1000);
            AtomicInteger next = new AtomicInteger();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> writers = new ArrayList<>();
                for (int w = 0; w < 16; w++) {
                    writers.add(pool.submit(() -> {
                        for (int n = next.getAndIncrement(); n < records; n = next.getAndIncrement()) {
                            api.expect("POST", "/t/" + slug + "/collections/" + COLLECTION + "/records",
                                    Map.of("n", n, "padding", padding), token);
                        }
                        return null;
                    }));
                }
                for (Future<?> writer : writers) {
                    try {
                        writer.get();
                    } catch (java.util.concurrent.ExecutionException e) {
                        throw e.getCause() instanceof Fatal fatal ? fatal : new Fatal("writing records: " + e.getCause());
                    }
                }
            }
        }

        private int countTenants(String key) {
            int count = 0;
            String cursor = null;
            do {
                JsonNode page = api.expect("GET", "/admin/tenants?limit=500" + (cursor == null ? "" : "&cursor=" + cursor), null, key);
                count += page.path("tenants").size();
                cursor = page.path("next_cursor").isNull() || page.path("next_cursor").isMissingNode() ? null
                        : java.net.URLEncoder.encode(page.path("next_cursor").asText(), StandardCharsets.UTF_8);
            } while (cursor != null);
            return count;
        }

        List<Row> rows() {
            String name = "one-tenant restore-to, in place (job time; bytes read from the store), many tenants vs few (goal ≈ 1.0)";
            if (!errors.isEmpty() || !seconds.containsKey("few") || !seconds.containsKey("many")) {
                return List.of(new Row("8", name, "—", "—", "—", String.join("; ", errors)));
            }
            String many = cell("many");
            String few = cell("few");
            String ratio = String.format(Locale.ROOT, "%.2f", seconds.get("many") / seconds.get("few"));
            String notes = "bytes read many/few: " + String.format(Locale.ROOT, "%.2f", results.get("many").path("bytes_read")
                    .asDouble() / results.get("few").path("bytes_read").asDouble()) + "; the WAL replayed is the whole "
                    + "server's since the base backup; each restore saves the tenant first (for --undo)";
            return List.of(new Row("8", name, many, few, ratio, notes));
        }

        private String cell(String label) {
            JsonNode result = results.get(label);
            return String.format(Locale.ROOT, "%.1f s at %d tenants (%s read, %d objects)", seconds.get(label),
                    tenantCounts.get(label), String.format(Locale.ROOT, "%.1f MB", result.path("bytes_read").asLong() / 1e6),
                    result.path("objects_read").asInt());
        }
    }

    /** Every rate limit on, each far above what the load generator can send: checked on every request, never refusing. */
    static final List<String> RATE_LIMIT_SETTINGS = List.of("SILO_RATE_LIMIT_IP", "SILO_RATE_LIMIT_TENANT",
            "SILO_RATE_LIMIT_USER_WRITE", "SILO_RATE_LIMIT_AUTH", "SILO_RATE_LIMIT_ADMIN");

    static final Map<String, String> HIGH_RATE_LIMITS = RATE_LIMIT_SETTINGS.stream()
            .collect(java.util.stream.Collectors.toUnmodifiableMap(name -> name, name -> "10000000/s,10000000"));
    static final String BENCH_REDIS = "redis://127.0.0.1:6379";

    /**
     * Row 7 (issue 14): what the rate limiter costs. {@code GET /t/{tenant}/me} (an IP and a tenant bucket per
     * request) on a Silo with every limit on but never reached, against one with them off, each started for this
     * row, one at a time, and warmed with an unmeasured pass; then the same with the buckets in Redis
     * ({@code SILO_REDIS_URL}, one round trip per bucket) against in memory. Skipped with a note when no Redis
     * answers on 127.0.0.1:6379.
     */
    private void rateLimitRows(Api api, Features features) {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.ME);
        // Both sides on a Silo started for this row and warmed the same way: against the run's long-warm Silo a
        // fresh JVM would lose to its JIT, not to the limiter.
        Measured off = otherSiloMe("nolimits", Map.of(), needs);
        Measured memory = otherSiloMe("limits", HIGH_RATE_LIMITS, needs);
        rows.add(row("7", "rate limits: `GET /t/{tenant}/me` with every limit on (never reached) vs off (goal ≥ 0.95)",
                memory, off));
        // The end-to-end ratio above moves by ±20 % with the machine's other load; the limiter's own cost per request
        // does not, and next to what a /me request costs it says what the ratio should be.
        Measured alone = attempt("raw rate limiter, 1 thread", () -> Raw.rateLimiter(options));
        rows.add(new Row("7", "rate limiter alone: the ip and tenant bucket checks of one request, in memory, 1 thread",
                alone.cell(), "—", "—", alone.ok() ? alone.notes() : ""));
        Optional<String> redisDown = Machine.redisUnreachable("127.0.0.1", 6379);
        if (redisDown.isPresent()) {
            rows.add(new Row("7", "rate limits: `GET /t/{tenant}/me`, buckets in Redis vs in memory", "skipped", "—", "—",
                    "no Redis at 127.0.0.1:6379 (" + redisDown.get() + ")"));
            return;
        }
        Map<String, String> shared = new LinkedHashMap<>(HIGH_RATE_LIMITS);
        shared.put("SILO_REDIS_URL", BENCH_REDIS);
        Measured redis = otherSiloMe("redis", shared, needs);
        rows.add(row("7", "rate limits: `GET /t/{tenant}/me`, buckets in Redis (`SILO_REDIS_URL`, machine Redis) vs in memory",
                redis, memory));
    }

    /** Starts another Silo with {@code env}, warms it with one unmeasured pass of {@code /me}, measures it, stops it. */
    private Measured otherSiloMe(String name, Map<String, String> env, List<Feature> needs) {
        SiloProcess other = new SiloProcess(options, name, env);
        try {
            other.start();
            Cpu.init(other); // the CPU notes of this row are the other Silo's
            Api otherApi = new Api(other.baseUri());
            Features otherFeatures = Features.probe(otherApi, other, options, this::progress, errors);
            if (needs.stream().allMatch(feature -> otherFeatures.missing(feature).isEmpty() && !otherFeatures.failed(feature))) {
                attempt("warming the Silo " + name, () -> SiloRows.me(otherApi, otherFeatures, options));
            }
            return siloRow("GET /t/{tenant}/me, " + name, otherFeatures, needs, () -> SiloRows.me(otherApi, otherFeatures, options));
        } catch (Exception e) {
            return Measured.error("the Silo with " + env.keySet() + ": " + e.getMessage());
        } finally {
            other.stop();
            Cpu.init(siloProcess);
        }
    }

    /** Starts another Silo with {@code env}, measures record writes on it (sampling its lag if asked), stops it. */
    private Measured otherSilo(String name, Map<String, String> env, LagSampler lag, List<Feature> needs) {
        SiloProcess other = new SiloProcess(options, name, env);
        try {
            other.start();
            Cpu.init(other); // the CPU notes of this row are the other Silo's
            Api otherApi = new Api(other.baseUri());
            Features otherFeatures = Features.probe(otherApi, other, options, this::progress, errors);
            // A fresh JVM: one unmeasured pass of the same load first, so it is compared warm with the main Silo.
            if (otherFeatures.missing(Feature.RECORDS).isEmpty() && !otherFeatures.failed(Feature.RECORDS)) {
                attempt("warming the Silo " + name, () -> SiloRows.recordWrites(otherApi, otherFeatures, options));
            }
            if (lag == null) {
                return siloRow("record writes, " + name, otherFeatures, needs,
                        () -> SiloRows.recordWrites(otherApi, otherFeatures, options));
            }
            lag.attach(otherApi, otherFeatures.operatorKey());
            if ("on".equals(env.get("SILO_BACKUP_SYNCHRONOUS"))) {
                lag.awaitSynchronous();
            }
            return siloRow("record writes, " + name, otherFeatures, needs,
                    () -> lag.during(() -> SiloRows.recordWrites(otherApi, otherFeatures, options)));
        } catch (Exception e) {
            return Measured.error("the Silo with " + env + ": " + e.getMessage());
        } finally {
            other.stop();
            Cpu.init(siloProcess);
        }
    }

    /** Samples {@code wal.lag_seconds} and {@code wal.synchronous} from {@code GET /admin/backups}. */
    static final class LagSampler {
        private volatile Api api;
        private volatile String operatorKey;
        private final List<Double> samples = java.util.Collections.synchronizedList(new ArrayList<>());
        private final java.util.Set<String> modes = java.util.concurrent.ConcurrentHashMap.newKeySet();
        private volatile String error;

        LagSampler(Api api, String operatorKey) {
            this.api = api;
            this.operatorKey = operatorKey;
        }

        void attach(Api api, String operatorKey) {
            this.api = api;
            this.operatorKey = operatorKey;
        }

        void awaitSynchronous() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && !"on".equals(wal().path("synchronous").asText())) {
                Thread.sleep(200);
            }
        }

        private com.fasterxml.jackson.databind.JsonNode wal() {
            try {
                Reply reply = api.call("GET", "/admin/backups", null, operatorKey);
                if (!reply.success()) {
                    error = "GET /admin/backups answered " + reply.status();
                    return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
                }
                return new com.fasterxml.jackson.databind.ObjectMapper().readTree(reply.body()).path("wal");
            } catch (Exception e) {
                error = String.valueOf(e.getMessage());
                return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
            }
        }

        Measured during(Callable<Measured> load) throws Exception {
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            Thread sampler = Thread.ofPlatform().daemon().name("bench-wal-lag").start(() -> {
                while (!done.get()) {
                    var wal = wal();
                    if (wal.path("lag_seconds").isNumber()) {
                        samples.add(wal.path("lag_seconds").asDouble());
                    }
                    if (wal.path("synchronous").isTextual()) {
                        modes.add(wal.path("synchronous").asText());
                    }
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            try {
                return load.call();
            } finally {
                done.set(true);
                sampler.join(5000);
            }
        }

        String cell() {
            List<Double> sorted;
            synchronized (samples) {
                sorted = new ArrayList<>(samples);
            }
            if (sorted.isEmpty()) {
                return "no sample" + (error == null ? "" : " (" + error + ")");
            }
            java.util.Collections.sort(sorted);
            double p50 = sorted.get((int) Math.floor(0.50 * (sorted.size() - 1)));
            double p99 = sorted.get((int) Math.floor(0.99 * (sorted.size() - 1)));
            return String.format(Locale.ROOT, "p50 %.1f s, p99 %.1f s", p50, p99);
        }

        String notes() {
            return samples.size() + " samples of `wal.lag_seconds` (the receiver measures it every second; 0 = the store "
                    + "holds all the server flushed at its last measurement); synchronous mode seen: " + modes;
        }
    }

    /** Runs a Silo-side measurement when all its features are there; "not available yet" otherwise. */
    private Measured siloRow(String label, Features features, List<Feature> needs, Callable<Measured> work) {
        for (Feature feature : needs) {
            if (features.failed(feature)) {
                return Measured.error("the probe of " + feature.description + " failed");
            }
            Optional<String> missing = features.missing(feature);
            if (missing.isPresent()) {
                return Measured.notYet(missing.get());
            }
        }
        return attempt(label, work);
    }

    private Measured attempt(String label, Callable<Measured> work) {
        progress("measuring " + label);
        try {
            Measured measured = work.call();
            return measured;
        } catch (NotYet e) {
            return Measured.notYet(e.getMessage());
        } catch (Fatal e) {
            errors.add(label + ": " + e.getMessage() + siloState());
            return Measured.error(e.getMessage());
        } catch (Exception e) {
            errors.add(label + ": " + e + siloState());
            return Measured.error(e.toString());
        }
    }

    private String siloState() {
        try {
            if (siloProcess != null) {
                siloProcess.checkAlive();
            }
            return "";
        } catch (Fatal e) {
            return " (" + e.getMessage() + ")";
        }
    }

    private void progress(String message) {
        System.err.println("bench: " + message);
    }

    /**
     * A table row. {@code higherIsBetter}: ratio = Silo / raw (throughputs); otherwise (latencies, where the
     * figure compared is p50) ratio = raw / Silo. Either way 1.0 means "at the raw limit".
     */
    private Row row(String id, String name, Measured silo, Measured raw) {
        String ratio = "—";
        if (silo.ok() && raw.ok()) {
            // Latency figures carry 1/p50 as their rate, so this is raw p50 / Silo p50 for them.
            double r = silo.rate() / raw.rate();
            ratio = String.format(Locale.ROOT, "%.2f", r);
        }
        List<String> notes = new ArrayList<>();
        if (silo.notes() != null && !silo.notes().isEmpty()) {
            notes.add("Silo: " + silo.notes());
        }
        if (raw.notes() != null && !raw.notes().isEmpty()) {
            notes.add("raw: " + raw.notes());
        }
        return new Row(id, name, silo.cell(), raw.cell(), ratio, String.join("; ", notes));
    }

    private String render() {
        StringBuilder out = new StringBuilder();
        out.append("# Silo benchmark").append(options.quick() ? " (quick smoke run: tiny N, figures are noisy)" : "")
                .append("\n\n");
        header.forEach((key, value) -> out.append("- **").append(key).append("**: ").append(value).append('\n'));
        out.append('\n');
        out.append("| # | row | Silo | raw limit (same run) | ratio | notes |\n");
        out.append("|---|---|---|---|---|---|\n");
        for (Row row : rows) {
            out.append("| ").append(row.id()).append(" | ").append(cell(row.name())).append(" | ")
                    .append(cell(row.silo())).append(" | ").append(cell(row.raw())).append(" | ")
                    .append(row.ratio()).append(" | ").append(cell(row.notes())).append(" |\n");
        }
        out.append("\nRatio: Silo ÷ raw for throughputs, raw p50 ÷ Silo p50 for provisioning; 1.00 = at the raw limit. ")
                .append("CPU notes are cores used during the measured window (client = this harness's JVM, ")
                .append("tool = pgbench, silo = Silo's JVM, pg = the embedded PostgreSQL, other = everything else on the machine: "
                + "when it is high, the machine was busy and the figures are low).\n");
        if (!errors.isEmpty()) {
            out.append("\n## Errors\n\n");
            for (String error : errors) {
                out.append("- ").append(error.replace("\n", " ")).append('\n');
            }
        }
        return out.toString();
    }

    private static String cell(String text) {
        return text == null ? "" : text.replace("|", "\\|").replace("\n", " ");
    }

    private void writeReport(String report) throws IOException {
        Files.createDirectories(options.outDir());
        String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
        String suffix = options.quick() ? "-quick" : "";
        Path file = options.outDir().resolve("bench-" + stamp + suffix + ".md");
        Files.writeString(file, report);
        Files.writeString(options.outDir().resolve("latest" + suffix + ".md"), report);
        System.err.println("bench: report written to " + file);
    }

    static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // A measured figure

    /**
     * One measured figure: a rate (per second) with optional latency percentiles, or a latency-only figure
     * (provisioning), or a reason why there is none.
     */
    record Measured(String label, double rate, String unit, String cell, String notes, String error, String absent) {
        static Measured notYet(String why) {
            return new Measured(null, 0, null, "not available yet", why, null, why);
        }

        static Measured skipped(String why) {
            return new Measured(null, 0, null, "skipped", why, null, why);
        }

        static Measured error(String message) {
            return new Measured(null, 0, null, "ERROR (see Errors)", null, message, null);
        }

        boolean ok() {
            return error == null && absent == null && rate > 0;
        }

        /** The same figure quoted as a reference in a later row: short, without repeating the notes. */
        Measured asReference(String newLabel, String newNotes) {
            return new Measured(newLabel, rate, unit, newLabel + ": " + Format.rate(rate) + " " + unit, newNotes, error, absent);
        }

        static Measured throughput(String label, double rate, String unit, Latencies latencies, String notes) {
            String text = label == null || label.isEmpty() ? "" : label + ": ";
            text += Format.rate(rate) + " " + unit;
            if (latencies != null && latencies.count() > 0) {
                text += ", p50 " + Format.millis(latencies.percentile(0.50)) + ", p99 " + Format.millis(latencies.percentile(0.99));
            }
            return new Measured(label, rate, unit, text, notes, null, null);
        }

        /** A latency figure; {@code rate} holds 1 / p50 so ratios of two such figures compare p50s. */
        static Measured latency(String label, Latencies latencies, String notes) {
            double p50 = latencies.percentile(0.50);
            String text = (label == null || label.isEmpty() ? "" : label + ": ") + "p50 " + Format.millis(p50)
                    + ", p95 " + Format.millis(latencies.percentile(0.95)) + " over " + latencies.count();
            return new Measured(label, 1e9 / p50, "1/p50", text, notes, null, null);
        }
    }

    /** Sorted latencies in nanoseconds. */
    record Latencies(long[] sorted) {
        static Latencies of(long[] values, int count) {
            long[] copy = Arrays.copyOf(values, count);
            Arrays.sort(copy);
            return new Latencies(copy);
        }

        int count() {
            return sorted.length;
        }

        double percentile(double q) {
            if (sorted.length == 0) {
                return Double.NaN;
            }
            int index = (int) Math.ceil(q * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
        }
    }

    static final class Format {
        static String rate(double perSecond) {
            if (perSecond >= 100) {
                return String.format(Locale.ROOT, "%,d", Math.round(perSecond));
            }
            return String.format(Locale.ROOT, "%.1f", perSecond);
        }

        static String millis(double nanos) {
            double ms = nanos / 1e6;
            if (ms >= 100) {
                return String.format(Locale.ROOT, "%.0f ms", ms);
            }
            if (ms >= 1) {
                return String.format(Locale.ROOT, "%.1f ms", ms);
            }
            return String.format(Locale.ROOT, "%.2f ms", ms);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The machine

    static final class Machine {
        /** Empty when a Redis answers PING at {@code host:port}; else why not. */
        static Optional<String> redisUnreachable(String host, int port) {
            try (java.net.Socket socket = new java.net.Socket()) {
                socket.connect(new java.net.InetSocketAddress(host, port), 1000);
                socket.setSoTimeout(2000);
                socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
                byte[] answer = new byte[64];
                int read = socket.getInputStream().read(answer);
                String text = read <= 0 ? "" : new String(answer, 0, read, StandardCharsets.US_ASCII).strip();
                return text.equals("+PONG") ? Optional.empty() : Optional.of("it answered '" + text + "' to PING");
            } catch (IOException e) {
                return Optional.of(e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }

        static int cores() {
            return Runtime.getRuntime().availableProcessors();
        }

        static String describe() {
            String cpu = "unknown CPU";
            String memory = "unknown memory";
            try {
                cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                        .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse(cpu);
                memory = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal:"))
                        .map(l -> String.format(Locale.ROOT, "%.1f GiB RAM",
                                Long.parseLong(l.replaceAll("\\D", "")) / 1024.0 / 1024.0)).findFirst().orElse(memory);
            } catch (IOException | RuntimeException ignored) {
                // not Linux: keep "unknown"
            }
            return cores() + " cores (" + cpu + "), " + memory + ", " + System.getProperty("os.name") + " "
                    + System.getProperty("os.version");
        }

        static String siloVersion(Path jar) {
            try {
                Process process = new ProcessBuilder(javaCommand(jar, "version")).redirectErrorStream(true).start();
                String text = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                    return "unknown (`silo version` failed)";
                }
                String version = text.lines().findFirst().orElse("").strip();
                String commit = text.lines().filter(l -> l.startsWith("commit:")).map(l -> l.substring(7).strip())
                        .findFirst().orElse("?");
                return "`" + version + "`, commit " + commit + " (target/silo.jar)";
            } catch (IOException e) {
                return "unknown (" + e.getMessage() + ")";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "unknown";
            }
        }

        static List<String> javaCommand(Path jar, String... args) {
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.add("-XX:MaxRAMPercentage=50");
            if (Runtime.version().feature() >= 23) {
                // Tink's protobuf runtime uses sun.misc.Unsafe (as ./silo does).
                command.add("--sun-misc-unsafe-memory-access=allow");
            }
            String extra = System.getenv("SILO_BENCH_JVM_OPTS");
            if (extra != null && !extra.isBlank()) {
                // For profiling Silo under the benchmark, e.g. -XX:StartFlightRecording=...
                command.addAll(List.of(extra.trim().split("\\s+")));
            }
            command.add("-jar");
            command.add(jar.toString());
            command.addAll(List.of(args));
            return command;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Silo as a child process

    static final class SiloProcess {
        private static final Pattern READY = Pattern.compile("Silo is ready at (http://\\S+)");
        private static final Pattern PG_READY = Pattern.compile("Embedded PostgreSQL ready on 127\\.0\\.0\\.1:(\\d+)");
        private static final Pattern OPERATOR_KEY = Pattern.compile("silo_op_[A-Za-z0-9_\\-]{16,}");

        private final Options options;
        private final Path dataDir;
        private final Path log;
        private volatile Process process;
        private volatile URI baseUri;
        private volatile int postgresPort;
        private volatile String superuserPassword;
        private volatile boolean stopped;

        private final String name;
        private final Map<String, String> extraEnv;

        SiloProcess(Options options) {
            this(options, "", Map.of());
        }

        /** Another Silo in the same run (its own data directory and log), with {@code extraEnv} on top. */
        SiloProcess(Options options, String name, Map<String, String> extraEnv) {
            this.options = options;
            this.name = name;
            this.extraEnv = Map.copyOf(extraEnv);
            String suffix = name.isEmpty() ? "" : "-" + name;
            this.dataDir = options.work().resolve("data" + suffix);
            this.log = options.work().resolve("silo" + suffix + ".log");
        }

        void start() throws IOException, InterruptedException {
            List<String> command = Machine.javaCommand(options.jar(), "serve", "--port", "0", "--data-dir", dataDir.toString());
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
            Map<String, String> env = builder.environment();
            // A fresh embedded installation, whatever the caller's environment says.
            for (String name : List.of("SILO_DATABASE_URL", "DATABASE_URL", "SILO_MASTER_KEY", "SILO_MASTER_KEY_FILE",
                    "SILO_PORT", "PORT", "SILO_DATA_DIR", "SILO_PUBLIC_URL", "SILO_OPERATOR_KEY")) {
                env.remove(name);
            }
            env.put("SILO_HOST", "127.0.0.1");
            env.put("SILO_LOG_FORMAT", "json");
            env.put("SILO_BCRYPT_COST", Integer.toString(options.bcryptCost()));
            env.putAll(extraEnv);
            // Every load generator connection comes from 127.0.0.1: the rate limits would measure 429s, not Silo.
            // Only row 7 sets them (high enough never to refuse), to measure what checking them costs.
            for (String limit : RATE_LIMIT_SETTINGS) {
                if (!extraEnv.containsKey(limit)) {
                    env.put(limit, "off");
                }
            }
            if (!extraEnv.containsKey("SILO_REDIS_URL")) {
                env.remove("SILO_REDIS_URL");
            }
            long started = System.nanoTime();
            System.err.println("bench: starting Silo on a fresh data directory " + dataDir);
            process = builder.start();
            Files.writeString(options.work().resolve(name.isEmpty() ? "silo.pid" : "silo-" + name + ".pid"),
                    Long.toString(process.pid()));
            long deadline = started + TimeUnit.SECONDS.toNanos(180);
            while (System.nanoTime() < deadline) {
                String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
                Matcher ready = READY.matcher(text);
                if (ready.find()) {
                    baseUri = URI.create(ready.group(1));
                    Matcher pg = PG_READY.matcher(text);
                    if (pg.find()) {
                        postgresPort = Integer.parseInt(pg.group(1));
                    } else {
                        postgresPort = postmasterPort().orElseThrow(() -> new Fatal(
                                "Silo is ready but the embedded PostgreSQL port is neither in its log nor in postmaster.pid"));
                    }
                    System.err.printf(Locale.ROOT, "bench: Silo ready at %s in %.1f s (PostgreSQL on port %d)%n",
                            baseUri, (System.nanoTime() - started) / 1e9, postgresPort);
                    return;
                }
                if (!process.isAlive()) {
                    throw new Fatal("Silo exited with status " + process.exitValue() + " before it was ready; its log ends with:\n"
                            + tail(text, 15));
                }
                Thread.sleep(50);
            }
            throw new Fatal("Silo was not ready within 180 s; its log ends with:\n" + tail(Files.readString(log), 15));
        }

        boolean started() {
            return process != null;
        }

        URI baseUri() {
            return baseUri;
        }

        int postgresPort() {
            return postgresPort;
        }

        long pid() {
            return process.pid();
        }

        Path caCertificate() {
            return dataDir.resolve("postgres/tls/ca.crt");
        }

        Path postmasterPidFile() {
            return dataDir.resolve("postgres/data/postmaster.pid");
        }

        Optional<Long> postmasterPid() {
            try {
                List<String> lines = Files.readAllLines(postmasterPidFile());
                return lines.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(lines.get(0).strip()));
            } catch (IOException | NumberFormatException e) {
                return Optional.empty();
            }
        }

        private Optional<Integer> postmasterPort() {
            try {
                List<String> lines = Files.readAllLines(postmasterPidFile());
                return lines.size() > 3 ? Optional.of(Integer.parseInt(lines.get(3).strip())) : Optional.empty();
            } catch (IOException | NumberFormatException e) {
                return Optional.empty();
            }
        }

        /**
         * The embedded superuser's password, unwrapped with the generated master key exactly as Silo does
         * (see EmbeddedPostgresServer). Never printed.
         */
        synchronized String superuserPassword() {
            if (superuserPassword == null) {
                try {
                    byte[] masterKey = dev.silo.platform.config.MasterKeyFormat.decode("master.key",
                            Files.readString(dataDir.resolve("master.key")));
                    String wrapped = Files.readString(dataDir.resolve("postgres/superuser.wrapped")).strip();
                    superuserPassword = dev.silo.platform.crypto.Envelope.fromRawKey(masterKey)
                            .unwrapString(Base64.getDecoder().decode(wrapped), "embedded-postgres/superuser");
                } catch (IOException | RuntimeException e) {
                    throw new Fatal("cannot read the embedded superuser password from " + dataDir
                            + " (master.key, postgres/superuser.wrapped): " + e.getMessage());
                }
            }
            return superuserPassword;
        }

        /**
         * The bootstrap operator key of the first start (issue 3): from {@code <data dir>/bootstrap-operator.key}
         * (mode 0600), else the first {@code silo_op_...} in Silo's output.
         */
        Optional<String> operatorKey() {
            try {
                Path file = dataDir.resolve("bootstrap-operator.key");
                for (String text : new String[] {
                        Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "",
                        Files.readString(log, StandardCharsets.UTF_8)}) {
                    Matcher matcher = OPERATOR_KEY.matcher(text);
                    if (matcher.find()) {
                        return Optional.of(matcher.group());
                    }
                }
                return Optional.empty();
            } catch (IOException e) {
                return Optional.empty();
            }
        }

        /** Is the process still running? A dead Silo turns every later measurement into an error. */
        void checkAlive() {
            if (process != null && !process.isAlive()) {
                throw new Fatal("Silo exited with status " + process.exitValue() + " during the benchmark");
            }
        }

        /**
         * SIGTERM (Silo then stops PostgreSQL itself), up to 40 s; then SIGKILL and a fast shutdown of a
         * PostgreSQL left behind. Idempotent; also run from the shutdown hook on Ctrl-C.
         */
        synchronized void stop() {
            if (stopped || process == null) {
                return;
            }
            stopped = true;
            try {
                if (process.isAlive()) {
                    System.err.println("bench: stopping Silo (SIGTERM)");
                    process.destroy();
                    if (!process.waitFor(40, TimeUnit.SECONDS)) {
                        System.err.println("bench: Silo did not stop within 40 s; killing it");
                        process.destroyForcibly();
                        process.waitFor(10, TimeUnit.SECONDS);
                    }
                }
                Optional<Long> postmaster = postmasterPid();
                if (postmaster.isPresent()) {
                    Optional<ProcessHandle> handle = ProcessHandle.of(postmaster.get());
                    if (handle.isPresent() && handle.get().isAlive() && ownsPostmaster(postmaster.get())) {
                        System.err.println("bench: PostgreSQL still running after Silo stopped; fast shutdown");
                        new ProcessBuilder("kill", "-INT", Long.toString(postmaster.get())).start().waitFor();
                        try {
                            handle.get().onExit().get(15, TimeUnit.SECONDS);
                        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
                            handle.get().destroyForcibly();
                        }
                    }
                }
            } catch (IOException e) {
                System.err.println("bench: while stopping Silo: " + e);
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }

        private boolean ownsPostmaster(long pid) {
            try {
                String cmdline = Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ');
                return cmdline.contains(dataDir.toString());
            } catch (IOException e) {
                return false;
            }
        }

        /** Keeps Silo's log (operator keys redacted) in bench/out for a failed run. */
        void saveLogOnFailure(Path outDir) {
            try {
                if (!Files.exists(log)) {
                    return;
                }
                Files.createDirectories(outDir);
                String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
                Path target = outDir.resolve("silo-" + stamp + ".log");
                List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
                String kept = lines.size() <= 1000 ? String.join("\n", lines)
                        : String.join("\n", lines.subList(0, 500)) + "\n... (" + (lines.size() - 1000) + " lines left out) ...\n"
                        + String.join("\n", lines.subList(lines.size() - 500, lines.size()));
                String text = OPERATOR_KEY.matcher(kept).replaceAll("silo_op_<redacted>");
                Files.writeString(target, text);
                System.err.println("bench: Silo's log kept in " + target);
            } catch (IOException e) {
                System.err.println("bench: cannot keep Silo's log: " + e);
            }
        }

        static String tail(String text, int lines) {
            List<String> all = text.lines().toList();
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // PostgreSQL (the embedded server, as its superuser)

    static final class Postgres implements AutoCloseable {
        private final SiloProcess silo;
        private final Connection connection;

        private Postgres(SiloProcess silo, Connection connection) {
            this.silo = silo;
            this.connection = connection;
        }

        static Postgres connect(SiloProcess silo) {
            return new Postgres(silo, open(silo, "postgres"));
        }

        static Connection open(SiloProcess silo, String database) {
            Properties properties = new Properties();
            properties.setProperty("user", "postgres");
            properties.setProperty("password", silo.superuserPassword());
            properties.setProperty("sslmode", "verify-full");
            properties.setProperty("sslrootcert", silo.caCertificate().toString());
            properties.setProperty("ApplicationName", "silo-bench");
            try {
                return DriverManager.getConnection("jdbc:postgresql://localhost:" + silo.postgresPort() + "/" + database, properties);
            } catch (SQLException e) {
                throw new Fatal("cannot connect to the embedded PostgreSQL on port " + silo.postgresPort() + " as postgres: "
                        + e.getMessage());
            }
        }

        String version() throws SQLException {
            try (Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SHOW server_version")) {
                rs.next();
                return rs.getString(1);
            }
        }

        Connection connection() {
            return connection;
        }

        /** libpq settings for pgbench against the embedded server's {@code bench} database. */
        static Map<String, String> libpqEnvironment(SiloProcess silo) {
            Map<String, String> env = new HashMap<>();
            env.put("PGHOST", "localhost");
            env.put("PGPORT", Integer.toString(silo.postgresPort()));
            env.put("PGUSER", "postgres");
            env.put("PGPASSWORD", silo.superuserPassword());
            env.put("PGSSLMODE", "verify-full");
            env.put("PGSSLROOTCERT", silo.caCertificate().toString());
            env.put("PGDATABASE", "bench");
            env.put("PGAPPNAME", "silo-bench");
            return env;
        }

        @Override
        public void close() throws SQLException {
            connection.close();
        }
    }

    /** Samples the number of client backends on the embedded server every 100 ms (excluding its own). */
    static final class ConnectionSampler implements AutoCloseable {
        private final SiloProcess silo;
        private final AtomicInteger windowPeak = new AtomicInteger();
        private final AtomicInteger overallPeak = new AtomicInteger();
        private final AtomicInteger tenantWindowPeak = new AtomicInteger();
        private volatile boolean running = true;
        private Thread thread;

        ConnectionSampler(SiloProcess silo) {
            this.silo = silo;
        }

        void start() {
            Connection connection = Postgres.open(silo, "postgres");
            thread = Thread.ofPlatform().daemon().name("bench-connection-sampler").start(() -> {
                try (connection; Statement statement = connection.createStatement()) {
                    while (running) {
                        try (ResultSet rs = statement.executeQuery("""
                                SELECT count(*), count(*) FILTER (WHERE usename LIKE 't\\_%')
                                FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()""")) {
                            rs.next();
                            int count = rs.getInt(1);
                            windowPeak.accumulateAndGet(count, Math::max);
                            overallPeak.accumulateAndGet(count, Math::max);
                            tenantWindowPeak.accumulateAndGet(rs.getInt(2), Math::max);
                        }
                        Thread.sleep(100);
                    }
                } catch (SQLException | InterruptedException e) {
                    // the server is stopping
                }
            });
        }

        void resetWindow() {
            windowPeak.set(0);
            tenantWindowPeak.set(0);
        }

        /** Connections logged in as tenant roles ({@code t_<id>}): what Silo's tenant connection budget caps. */
        int tenantWindowPeak() {
            return tenantWindowPeak.get();
        }

        int windowPeak() {
            return windowPeak.get();
        }

        int overallPeak() {
            return overallPeak.get();
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            if (thread != null) {
                thread.join(2000);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // CPU accounting: who used the 2 cores during a measured window

    record Cpu(long clientNanos, long toolNanos, long siloNanos, long postgresNanos, long machineNanos, long wallNanos) {
        private static final long TICK_NANOS = 10_000_000L; // USER_HZ is 100 on Linux
        private static volatile SiloProcess silo;

        static void init(SiloProcess process) {
            silo = process;
        }

        /** This snapshot with the wall clock of {@code wallNanos}: for CPU counted a little after a phase ended. */
        Cpu endedAt(long wallNanos) {
            return new Cpu(clientNanos, toolNanos, siloNanos, postgresNanos, machineNanos, wallNanos);
        }

        static Cpu now() {
            long client = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                    .getProcessCpuTime();
            long[] self = stat(ProcessHandle.current().pid());
            long tool = self == null ? 0 : (self[2] + self[3]) * TICK_NANOS; // reaped children: pgbench
            long siloNanos = 0;
            long postgres = 0;
            if (silo != null && silo.started()) {
                long[] s = stat(silo.pid());
                siloNanos = s == null ? 0 : (s[0] + s[1]) * TICK_NANOS;
                Optional<Long> postmaster = silo.postmasterPid();
                if (postmaster.isPresent()) {
                    long[] p = stat(postmaster.get());
                    if (p != null) {
                        postgres = (p[0] + p[1] + p[2] + p[3]) * TICK_NANOS;
                        for (ProcessHandle child : ProcessHandle.of(postmaster.get()).map(h -> h.children().toList())
                                .orElse(List.of())) {
                            long[] c = stat(child.pid());
                            if (c != null) {
                                postgres += (c[0] + c[1]) * TICK_NANOS;
                            }
                        }
                    }
                }
            }
            return new Cpu(client, tool, siloNanos, postgres, machineBusy(), System.nanoTime());
        }

        /** CPU time the whole machine spent busy (all processes, all cores), from /proc/stat; 0 if unknown. */
        private static long machineBusy() {
            try {
                String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
                // cpu user nice system idle iowait irq softirq steal ...
                long busy = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                        + Long.parseLong(f[7]) + (f.length > 8 ? Long.parseLong(f[8]) : 0);
                return busy * TICK_NANOS;
            } catch (IOException | RuntimeException e) {
                return 0;
            }
        }

        /** utime, stime, cutime, cstime in clock ticks, or null. */
        private static long[] stat(long pid) {
            try {
                String text = Files.readString(Path.of("/proc/" + pid + "/stat"));
                String[] fields = text.substring(text.lastIndexOf(')') + 2).split(" ");
                return new long[] {Long.parseLong(fields[11]), Long.parseLong(fields[12]), Long.parseLong(fields[13]),
                        Long.parseLong(fields[14])};
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }

        /** "CPU cores: client 0.8, silo 1.0, pg 0.2" for the window between two snapshots. */
        static String used(Cpu before, Cpu after) {
            double wall = after.wallNanos - before.wallNanos;
            List<String> parts = new ArrayList<>();
            parts.add(part("client", after.clientNanos - before.clientNanos, wall));
            if (after.toolNanos - before.toolNanos > 0) {
                parts.add(part("tool", after.toolNanos - before.toolNanos, wall));
            }
            parts.add(part("silo", after.siloNanos - before.siloNanos, wall));
            long pg = Math.max(0, after.postgresNanos - before.postgresNanos);
            parts.add(part("pg", pg, wall));
            if (after.machineNanos > 0) {
                // Anything else on the machine (other builds, tests, ...) competing for the same cores.
                long ours = (after.clientNanos - before.clientNanos) + (after.toolNanos - before.toolNanos)
                        + (after.siloNanos - before.siloNanos) + pg;
                parts.add(part("other", Math.max(0, after.machineNanos - before.machineNanos - ours), wall));
            }
            return "CPU cores " + String.join(", ", parts);
        }

        private static String part(String name, long nanos, double wall) {
            return name + " " + String.format(Locale.ROOT, "%.2f", nanos / wall);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Raw limits, measured in this JVM and with pgbench

    static final class Raw {
        /**
         * The rate limiter alone, in memory, as a {@code /t/{tenant}/me} request uses it: one token from the address's
         * bucket and one from the tenant's (Silo's own {@code RateLimiter}, limits never reached), on one thread.
         */
        static Measured rateLimiter(Options options) throws Exception {
            var limiter = new dev.silo.platform.ratelimit.RateLimiter(Optional.empty());
            var limit = dev.silo.platform.ratelimit.RateLimit.parse(HIGH_RATE_LIMITS.get("SILO_RATE_LIMIT_IP")).orElseThrow();
            CpuBound result = CpuBound.run(1, options.warmup(), options.measure(), () -> {
                boolean allowed = limiter.tryConsume("ip:127.0.0.1", limit).allowed()
                        & limiter.tryConsume("tenant:bench-00001", limit).allowed();
                if (!allowed) {
                    throw new IllegalStateException("a limit of " + limit.spec() + " refused");
                }
                return 1;
            });
            return Measured.throughput("two bucket checks", result.rate(), "/s", null,
                    result.cpu() + String.format(Locale.ROOT, " (%.0f ns per request)", 1e9 / result.rate()));
        }

        /** bcrypt verifications per second at Silo's cost, with the library Silo uses. */
        static Measured bcrypt(Options options, int threads) throws Exception {
            char[] password = PASSWORD.toCharArray();
            byte[] hash = BCrypt.withDefaults().hash(options.bcryptCost(), password);
            BCrypt.Verifyer verifyer = BCrypt.verifyer();
            CpuBound result = CpuBound.run(threads, options.warmup(), options.measure(), () -> {
                if (!verifyer.verify(password, hash).verified) {
                    throw new IllegalStateException("bcrypt did not verify its own hash");
                }
                return 1;
            });
            return Measured.throughput("bcrypt verify, " + threads + " thread" + (threads == 1 ? "" : "s"),
                    result.rate(), "/s", null, result.cpu() + " (at.favre bcrypt, cost " + options.bcryptCost() + ")");
        }

        /**
         * HS256 verifications per second with Nimbus as Silo would do them: parse, check alg, verify the MAC
         * with a reused verifier, read the claims, check expiry and issuer.
         */
        static Measured hs256(Options options, int threads) throws Exception {
            byte[] secret = new byte[64];
            SecureRandom random = new SecureRandom();
            for (int i = 0; i < secret.length; i++) {
                secret[i] = (byte) "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charAt(random.nextInt(64));
            }
            String issuer = "http://localhost:8080/t/acme";
            Instant now = Instant.now();
            JWTClaimsSet claims = new JWTClaimsSet.Builder()
                    .issuer(issuer).audience("silo").subject(UUID.randomUUID().toString())
                    .claim("tid", UUID.randomUUID().toString()).claim("role", "member")
                    .claim("sid", UUID.randomUUID().toString())
                    .issueTime(Date.from(now)).notBeforeTime(Date.from(now))
                    .expirationTime(Date.from(now.plus(15, ChronoUnit.MINUTES))).jwtID(UUID.randomUUID().toString())
                    .build();
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("k1").type(JOSEObjectType.JWT).build(), claims);
            jwt.sign(new MACSigner(secret));
            String token = jwt.serialize();
            ThreadLocal<MACVerifier> verifiers = ThreadLocal.withInitial(() -> {
                try {
                    return new MACVerifier(secret);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            CpuBound result = CpuBound.run(threads, options.warmup(), options.measure(), () -> {
                SignedJWT parsed = SignedJWT.parse(token);
                if (!JWSAlgorithm.HS256.equals(parsed.getHeader().getAlgorithm()) || !parsed.verify(verifiers.get())) {
                    throw new IllegalStateException("HS256 token did not verify");
                }
                JWTClaimsSet set = parsed.getJWTClaimsSet();
                if (set.getExpirationTime().getTime() < System.currentTimeMillis() || !issuer.equals(set.getIssuer())) {
                    throw new IllegalStateException("claims check failed");
                }
                return set.getSubject().length();
            });
            return Measured.throughput("HS256 verify, " + threads + " thread" + (threads == 1 ? "" : "s"),
                    result.rate(), "/s", null, result.cpu() + " (Nimbus JOSE+JWT: parse, MAC, claims, expiry)");
        }

        static void pgbenchInit(Options options, SiloProcess silo, Postgres postgres, Path pgbench) throws Exception {
            try (Statement statement = postgres.connection().createStatement()) {
                // A database of its own, so the catalog stays untouched.
                statement.execute("CREATE DATABASE bench");
            }
            try (Connection bench = Postgres.open(silo, "bench"); Statement statement = bench.createStatement()) {
                statement.execute("""
                        CREATE TABLE bench_insert (
                            id uuid PRIMARY KEY,
                            body jsonb NOT NULL,
                            created_at timestamptz NOT NULL DEFAULT now()
                        )
                        """);
            }
            Files.writeString(insertScript(options), """
                    INSERT INTO bench_insert (id, body) VALUES (gen_random_uuid(), '{"title": "bench record", "n": 1}');
                    """);
            // Server-side data generation (G): much faster than streaming rows over TLS.
            Tool.run(pgbench, List.of("-i", "-q", "-I", "dtGvp", "-s", Integer.toString(options.pgbenchScale())),
                    Postgres.libpqEnvironment(silo), Duration.ofMinutes(10));
            // For pgbench -C: a role that logs in like a Silo tenant role, with a SCRAM verifier of 16 iterations
            // (Silo's ScramVerifier; the superuser's has PostgreSQL's default 4,096, which both sides of every
            // login would otherwise pay in PBKDF2).
            byte[] secret = new byte[24];
            new java.security.SecureRandom().nextBytes(secret);
            churnPassword = java.util.HexFormat.of().formatHex(secret);
            try (Connection bench = Postgres.open(silo, "bench"); Statement statement = bench.createStatement()) {
                statement.execute("SET scram_iterations = 16");
                statement.execute("CREATE ROLE " + CHURN_ROLE + " LOGIN PASSWORD '" + churnPassword + "'");
                statement.execute("GRANT SELECT ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO "
                        + CHURN_ROLE);
            }
        }

        static final String CHURN_ROLE = "bench_churn";
        private static volatile String churnPassword;

        static Path insertScript(Options options) {
            return options.work().resolve("insert.sql");
        }

        private static final Pattern TPS = Pattern.compile("tps = ([0-9.]+) \\((?:without initial connection time|including reconnection times)\\)");
        private static final Pattern FAILED = Pattern.compile("number of failed transactions: (\\d+)");

        /** A warm-up run, then a measured run with sampled per-transaction logs for p50/p99. */
        static Measured pgbench(Options options, SiloProcess silo, Path pgbench, String name, List<String> workload)
                throws Exception {
            Map<String, String> env = Postgres.libpqEnvironment(silo);
            if (workload.contains("-C")) {
                env.put("PGUSER", CHURN_ROLE);
                env.put("PGPASSWORD", churnPassword);
            }
            List<String> common = new ArrayList<>(workload);
            common.addAll(List.of("-n", "-c", Integer.toString(options.pgbenchClients()), "-j", "2"));
            List<String> warm = new ArrayList<>(common);
            warm.addAll(List.of("-T", Integer.toString(options.pgbenchSeconds(options.warmup()))));
            Tool.run(pgbench, warm, env, Duration.ofMinutes(5));

            Path logDir = options.work().resolve("pgbench-" + name);
            Files.createDirectories(logDir);
            List<String> measured = new ArrayList<>(common);
            measured.addAll(List.of("-T", Integer.toString(options.pgbenchSeconds(options.measure())),
                    "-l", "--sampling-rate=0.05", "--log-prefix=" + logDir.resolve("log")));
            Cpu before = Cpu.now();
            String output = Tool.run(pgbench, measured, env, Duration.ofMinutes(5));
            long ended = System.nanoTime();
            // pgbench's backends exit as it disconnects; a backend reaped while the snapshot is being taken was
            // neither among the postmaster's children nor yet in its reaped time, and its CPU showed as "other".
            Thread.sleep(500);
            Cpu after = Cpu.now().endedAt(ended);
            Matcher tps = TPS.matcher(output);
            if (!tps.find()) {
                throw new Fatal("cannot find the tps line in pgbench's output:\n" + output);
            }
            Matcher failed = FAILED.matcher(output);
            if (failed.find() && Long.parseLong(failed.group(1)) > 0) {
                throw new Fatal("pgbench reported " + failed.group(1) + " failed transactions");
            }
            long[] latencies = new long[1 << 16];
            int count = 0;
            try (Stream<Path> files = Files.list(logDir)) {
                for (Path file : files.toList()) {
                    for (String line : Files.readAllLines(file)) {
                        String[] fields = line.split(" ");
                        if (fields.length < 3) {
                            continue;
                        }
                        if (count == latencies.length) {
                            latencies = Arrays.copyOf(latencies, count * 2);
                        }
                        latencies[count++] = Long.parseLong(fields[2]) * 1000; // µs -> ns
                    }
                }
            }
            String label = workload.contains("-C") ? "`pgbench -C -S`"
                    : workload.contains("-S") ? "`pgbench -S`" : "INSERT (pgbench -f)";
            return Measured.throughput(label, Double.parseDouble(tps.group(1)), "tps", Latencies.of(latencies, count),
                    options.pgbenchClients() + (workload.contains("-C")
                            ? " clients, a new TLS connection per select, as a role with a 16-iteration SCRAM verifier like Silo's tenant roles; "
                            : " clients, prepared, TLS; ") + Cpu.used(before, after));
        }

        /**
         * What provisioning costs PostgreSQL alone: a LOGIN role with a SCRAM password, a database owned by it,
         * CONNECT revoked from PUBLIC (fsync on, WAL archived, like Silo's tenants).
         */
        static Measured provisioning(Options options, Postgres postgres) throws SQLException {
            int n = options.rawProvisionDatabases();
            long[] latencies = new long[n];
            Connection connection = postgres.connection();
            SecureRandom random = new SecureRandom();
            Cpu before = Cpu.now();
            try (Statement statement = connection.createStatement()) {
                for (int i = 0; i < n; i++) {
                    String name = "bench_raw_" + i;
                    byte[] bytes = new byte[24];
                    random.nextBytes(bytes);
                    long t0 = System.nanoTime();
                    statement.execute("CREATE ROLE " + name + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION");
                    connection.unwrap(PGConnection.class).alterUserPassword(name,
                            Base64.getUrlEncoder().withoutPadding().encodeToString(bytes).toCharArray(), "scram-sha-256");
                    statement.execute("CREATE DATABASE " + name + " OWNER " + name);
                    statement.execute("REVOKE CONNECT, TEMPORARY ON DATABASE " + name + " FROM PUBLIC");
                    latencies[i] = System.nanoTime() - t0;
                }
            }
            Cpu after = Cpu.now();
            return Measured.latency("SQL only", Latencies.of(latencies, n), "CREATE ROLE + password + CREATE DATABASE + REVOKE, "
                    + "no schema migration; " + Cpu.used(before, after));
        }
    }

    /** Runs an external tool, returning its output; a non-zero exit is an error carrying the output. */
    static final class Tool {
        static String run(Path tool, List<String> args, Map<String, String> env, Duration timeout) throws Exception {
            List<String> command = new ArrayList<>();
            command.add(tool.toString());
            command.addAll(args);
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().putAll(env);
            Process process = builder.start();
            AtomicReference<String> output = new AtomicReference<>("");
            Thread reader = Thread.ofVirtual().start(() -> {
                try {
                    output.set(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                } catch (IOException ignored) {
                    // the process was killed
                }
            });
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new Fatal(tool.getFileName() + " " + String.join(" ", args) + " did not finish within " + seconds(timeout));
            }
            reader.join(30_000);
            String text = output.get();
            if (process.exitValue() != 0) {
                throw new Fatal(tool.getFileName() + " " + String.join(" ", args) + " exited with " + process.exitValue()
                        + ": " + SiloProcess.tail(text, 8));
            }
            return text;
        }
    }

    /** Per-thread throughput of a CPU-bound operation on platform threads, after a warm-up. */
    record CpuBound(double rate, String cpu) {
        static volatile long sink;

        static CpuBound run(int threads, Duration warmup, Duration measure, Callable<Integer> operation) throws Exception {
            long start = System.nanoTime();
            long measureStart = start + warmup.toNanos();
            long end = measureStart + measure.toNanos();
            List<Thread> workers = new ArrayList<>();
            double[] rates = new double[threads];
            AtomicReference<Throwable> failure = new AtomicReference<>();
            for (int t = 0; t < threads; t++) {
                int index = t;
                workers.add(Thread.ofPlatform().name("bench-cpu-" + t).start(() -> {
                    try {
                        long local = 0;
                        while (System.nanoTime() < measureStart) {
                            local += operation.call();
                        }
                        long first = System.nanoTime();
                        long last = first;
                        long count = 0;
                        while (last < end) {
                            local += operation.call();
                            count++;
                            last = System.nanoTime();
                        }
                        rates[index] = count / ((last - first) / 1e9);
                        sink += local;
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            sleepUntil(measureStart);
            Cpu before = Cpu.now();
            sleepUntil(end);
            Cpu after = Cpu.now();
            for (Thread worker : workers) {
                worker.join();
            }
            if (failure.get() != null) {
                throw new Fatal("raw measurement failed: " + failure.get());
            }
            return new CpuBound(Arrays.stream(rates).sum(), Cpu.used(before, after));
        }
    }

    static void sleepUntil(long nanoTime) throws InterruptedException {
        long remaining;
        while ((remaining = nanoTime - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(remaining);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Silo's API for setup (JDK HttpClient; the load itself goes through Load)

    record Reply(int status, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new Fatal("expected JSON, got: " + abbreviate(body));
            }
        }

        boolean success() {
            return status >= 200 && status < 300;
        }

        /** No such route (yet): 404 or 405 from the router. */
        boolean routeMissing() {
            return status == 404 || status == 405;
        }
    }

    static String abbreviate(String text) {
        String oneLine = text == null ? "" : text.replace('\n', ' ');
        return oneLine.length() > 300 ? oneLine.substring(0, 300) + "..." : oneLine;
    }

    static final class Api {
        private final URI base;
        private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();

        Api(URI base) {
            this.base = base;
        }

        URI base() {
            return base;
        }

        Reply call(String method, String path, Object body, String bearer) {
            try {
                HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60));
                if (bearer != null) {
                    request.header("Authorization", "Bearer " + bearer);
                }
                if (body != null) {
                    request.header("Content-Type", "application/json");
                    request.method(method, HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
                } else {
                    request.method(method, HttpRequest.BodyPublishers.noBody());
                }
                HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
                return new Reply(response.statusCode(), response.body());
            } catch (IOException e) {
                throw new Fatal(method + " " + path + " failed: " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Fatal("interrupted");
            }
        }

        /** A call that must succeed; anything else is an error naming the contract in docs/benchmarks.md. */
        JsonNode expect(String method, String path, Object body, String bearer) {
            Reply reply = call(method, path, body, bearer);
            if (!reply.success()) {
                throw new Fatal(method + " " + path + " answered " + reply.status() + ": " + abbreviate(reply.body())
                        + " (see docs/benchmarks.md, 'What the harness expects')");
            }
            return reply.body().isBlank() ? JSON.createObjectNode() : reply.json();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Feature detection

    /**
     * The features the Silo-side rows need, in dependency order. Each is probed once, at run time, by calling the
     * route it adds: a 404 or 405 from the router means "not landed yet" and its rows print "not available yet";
     * a success means the rows run; anything else is an error (the feature landed but not in the shape the
     * harness expects: fix the harness or the feature, see docs/benchmarks.md).
     *
     * <p>To add a feature: add a constant here, a step in {@link Features#probe} that calls its route once, and
     * list it in the {@code needs} of the rows that use it.
     */
    enum Feature {
        TENANTS("tenants and the operator API (`POST /admin/tenants`)"),
        TENANT_ADMINS("a tenant's first admin (`POST /admin/tenants/{slug}/admins`)"),
        LOGIN("login (`POST /t/{slug}/auth/login`)"),
        ME("`GET /t/{slug}/me`"),
        RECORDS("the records API (`PUT /t/{slug}/collections/{c}`, `POST|GET .../records`)");

        final String description;

        Feature(String description) {
            this.description = description;
        }
    }

    /** A tenant prepared for the benchmark: its admin's access token and some record ids. */
    record BenchTenant(String slug, String email, String token, long tokenAt, List<String> recordIds) {
        BenchTenant(String slug, String email, String token, List<String> recordIds) {
            this(slug, email, token, System.nanoTime(), recordIds);
        }

        BenchTenant withToken(String newToken) {
            return new BenchTenant(slug, email, newToken, System.nanoTime(), recordIds);
        }

        BenchTenant withRecords(List<String> ids) {
            return new BenchTenant(slug, email, token, tokenAt, ids);
        }

        /** Access tokens live 15 minutes by default (issue 4): log in again before a phase when 5 have passed. */
        boolean tokenIsOld() {
            return token == null || System.nanoTime() - tokenAt > TimeUnit.MINUTES.toNanos(5);
        }
    }

    static final class Features {
        private final Map<Feature, String> missing = new LinkedHashMap<>();
        /** Features whose probe passed; {@link #failed}: whose probe (or a prerequisite's) failed. */
        private final java.util.Set<Feature> probed = java.util.EnumSet.noneOf(Feature.class);
        private final java.util.Set<Feature> failed = java.util.EnumSet.noneOf(Feature.class);
        private final Api api;
        private final Options options;
        private String operatorKey;
        private BenchTenant tenant;
        private final AtomicInteger slugs = new AtomicInteger();
        private final List<BenchTenant> extraTenants = new ArrayList<>();

        private Features(Api api, Options options) {
            this.api = api;
            this.options = options;
        }

        Optional<String> missing(Feature feature) {
            return Optional.ofNullable(missing.get(feature));
        }

        boolean failed(Feature feature) {
            return failed.contains(feature);
        }

        String operatorKey() {
            return operatorKey;
        }

        BenchTenant tenant() {
            return tenant;
        }

        List<BenchTenant> extraTenants() {
            return extraTenants;
        }

        String nextSlug() {
            return String.format(Locale.ROOT, "bench-%05d", slugs.incrementAndGet());
        }

        /**
         * Probes every feature. A probe that fails (the feature answers, but not as expected) is an error for the
         * run: its rows and every later feature's rows say ERROR, and the rest of the table is still measured.
         */
        static Features probe(Api api, SiloProcess silo, Options options, java.util.function.Consumer<String> progress,
                              List<String> errors) {
            Features features = new Features(api, options);
            try {
                features.run(silo, progress);
            } catch (Fatal e) {
                errors.add("feature probe: " + e.getMessage());
                for (Feature feature : Feature.values()) {
                    if (!features.missing.containsKey(feature) && !features.probed.contains(feature)) {
                        features.failed.add(feature);
                    }
                }
            }
            features.missing.forEach((feature, why) -> progress.accept("not available yet: " + feature.description + " — " + why));
            return features;
        }

        private void run(SiloProcess silo, java.util.function.Consumer<String> progress) {
            // TENANTS: the bootstrap operator key printed at the first start, then one tenant.
            operatorKey = silo.operatorKey().orElse(null);
            String slug = nextSlug();
            Reply created = api.call("POST", "/admin/tenants", Map.of("slug", slug, "name", "Bench tenant " + slug), operatorKey);
            if (created.routeMissing()) {
                markMissingFrom(Feature.TENANTS, "POST /admin/tenants answers " + created.status());
                return;
            }
            if (created.status() == 401 && operatorKey == null) {
                throw new Fatal("POST /admin/tenants exists (401) but neither <data dir>/bootstrap-operator.key nor Silo's "
                        + "output holds an operator key (`silo_op_...`) after the first start; the harness needs that bootstrap key (docs/benchmarks.md)");
            }
            if (!created.success()) {
                throw new Fatal("POST /admin/tenants answered " + created.status() + ": " + abbreviate(created.body()));
            }
            awaitActive(slug, created);
            probed.add(Feature.TENANTS);
            progress.accept("tenants: available (created " + slug + ")");

            // TENANT_ADMINS
            String email = "admin@" + slug + ".bench.example";
            Reply admin = api.call("POST", "/admin/tenants/" + slug + "/admins", Map.of("email", email, "password", PASSWORD),
                    operatorKey);
            if (admin.routeMissing()) {
                markMissingFrom(Feature.TENANT_ADMINS, "POST /admin/tenants/{slug}/admins answers " + admin.status());
                tenant = new BenchTenant(slug, email, null, List.of());
                return;
            }
            if (!admin.success()) {
                throw new Fatal("POST /admin/tenants/" + slug + "/admins answered " + admin.status() + ": " + abbreviate(admin.body()));
            }
            probed.add(Feature.TENANT_ADMINS);

            // LOGIN
            Reply login = api.call("POST", "/t/" + slug + "/auth/login", Map.of("email", email, "password", PASSWORD), null);
            if (login.routeMissing()) {
                markMissingFrom(Feature.LOGIN, "POST /t/{slug}/auth/login answers " + login.status());
                tenant = new BenchTenant(slug, email, null, List.of());
                return;
            }
            String token = accessToken(login, slug);
            tenant = new BenchTenant(slug, email, token, List.of());
            probed.add(Feature.LOGIN);
            progress.accept("login: available");

            // ME (independent of records)
            Reply me = api.call("GET", "/t/" + slug + "/me", null, token);
            if (me.routeMissing()) {
                missing.put(Feature.ME, "GET /t/{slug}/me answers " + me.status());
            } else if (me.status() != 200) {
                throw new Fatal("GET /t/" + slug + "/me answered " + me.status() + ": " + abbreviate(me.body()));
            } else {
                probed.add(Feature.ME);
            }

            // RECORDS
            Reply collection = api.call("PUT", "/t/" + slug + "/collections/" + COLLECTION, Map.of(), token);
            if (collection.routeMissing()) {
                missing.put(Feature.RECORDS, "PUT /t/{slug}/collections/{c} answers " + collection.status());
                return;
            }
            if (!collection.success()) {
                throw new Fatal("PUT /t/" + slug + "/collections/" + COLLECTION + " answered " + collection.status() + ": "
                        + abbreviate(collection.body()));
            }
            tenant = tenant.withRecords(seedRecords(tenant, options.quick() ? 20 : 100));
            Reply read = api.call("GET", recordPath(slug, tenant.recordIds().get(0)), null, token);
            if (read.status() != 200) {
                throw new Fatal("GET " + recordPath(slug, tenant.recordIds().get(0)) + " answered " + read.status() + ": "
                        + abbreviate(read.body()));
            }
            probed.add(Feature.RECORDS);
            progress.accept("records: available");
        }

        private void markMissingFrom(Feature first, String why) {
            boolean from = false;
            for (Feature feature : Feature.values()) {
                from |= feature == first;
                if (from) {
                    missing.put(feature, feature == first ? why : "needs " + first.description);
                }
            }
        }

        /** Creates a tenant with an admin, a token and (when records exist) a collection and records. */
        private final List<String> bareTenants = new ArrayList<>();

        /** Tenants created without users, for rows that need only the tenant. */
        List<String> bareTenants() {
            return bareTenants;
        }

        void createBareTenant(String slug) {
            Reply created = api.call("POST", "/admin/tenants", Map.of("slug", slug, "name", "Bench tenant " + slug), operatorKey);
            if (!created.success()) {
                throw new Fatal("POST /admin/tenants (" + slug + ") answered " + created.status() + ": " + abbreviate(created.body()));
            }
            awaitActive(slug, created);
        }

        BenchTenant createTenant(String slug, int records) {
            Reply created = api.call("POST", "/admin/tenants", Map.of("slug", slug, "name", "Bench tenant " + slug), operatorKey);
            if (!created.success()) {
                throw new Fatal("POST /admin/tenants (" + slug + ") answered " + created.status() + ": " + abbreviate(created.body()));
            }
            awaitActive(slug, created);
            return prepareTenant(slug, records);
        }

        BenchTenant prepareTenant(String slug, int records) {
            String email = "admin@" + slug + ".bench.example";
            api.expect("POST", "/admin/tenants/" + slug + "/admins", Map.of("email", email, "password", PASSWORD), operatorKey);
            String token = login(slug, email);
            BenchTenant prepared = new BenchTenant(slug, email, token, List.of());
            if (records > 0) {
                api.expect("PUT", "/t/" + slug + "/collections/" + COLLECTION, Map.of(), token);
                prepared = prepared.withRecords(seedRecords(prepared, records));
            }
            return prepared;
        }

        String login(String slug, String email) {
            return accessToken(api.call("POST", "/t/" + slug + "/auth/login", Map.of("email", email, "password", PASSWORD), null), slug);
        }

        private List<String> seedRecords(BenchTenant tenant, int count) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                JsonNode record = api.expect("POST", "/t/" + tenant.slug() + "/collections/" + COLLECTION + "/records",
                        Map.of("title", "bench record " + i, "n", i), tenant.token());
                JsonNode id = record.get("id");
                if (id == null || !id.isTextual()) {
                    throw new Fatal("POST .../records answered without a string \"id\": " + abbreviate(record.toString()));
                }
                ids.add(id.asText());
            }
            return ids;
        }

        private static String accessToken(Reply login, String slug) {
            if (login.status() != 200) {
                throw new Fatal("POST /t/" + slug + "/auth/login answered " + login.status() + ": " + abbreviate(login.body()));
            }
            JsonNode token = login.json().get("access_token");
            if (token == null || !token.isTextual()) {
                throw new Fatal("POST /t/" + slug + "/auth/login answered 200 without an access_token");
            }
            return token.asText();
        }

        /** Provisioning may be asynchronous (202 / status "provisioning"): wait until the tenant is active. */
        private void awaitActive(String slug, Reply created) {
            JsonNode status = created.body().isBlank() ? null : created.json().get("status");
            if (created.status() != 202 && (status == null || "active".equals(status.asText()))) {
                return;
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (System.nanoTime() < deadline) {
                JsonNode tenant = api.expect("GET", "/admin/tenants/" + slug, null, operatorKey);
                if ("active".equals(tenant.path("status").asText())) {
                    return;
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new Fatal("interrupted");
                }
            }
            throw new Fatal("tenant " + slug + " was not active within 120 s of its creation");
        }
    }

    static String recordPath(String slug, String id) {
        return "/t/" + slug + "/collections/" + COLLECTION + "/records/" + id;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Silo-side rows

    static final class SiloRows {
        static Measured trivialRoute(Api api, Options options) throws Exception {
            byte[] request = Load.get(api.base(), "/health/live", null);
            Load.Result result = Load.run(api.base(), options.connections(), options.warmup(), options.measure(),
                    (worker, i) -> request);
            return result.measured("`GET /health/live`", "req/s", options.connections() + " connections");
        }

        static Measured login(Api api, Features features, Options options, int threads) throws Exception {
            BenchTenant tenant = features.tenant();
            byte[] request = Load.post(api.base(), "/t/" + tenant.slug() + "/auth/login",
                    JSON.writeValueAsString(Map.of("email", tenant.email(), "password", PASSWORD)), null);
            Load.Result result = Load.run(api.base(), threads, options.warmup(), options.measure(), (worker, i) -> request);
            return result.measured("", "logins/s", threads + " connection" + (threads == 1 ? "" : "s"));
        }

        static Measured me(Api api, Features features, Options options) throws Exception {
            BenchTenant tenant = features.tenant();
            // A fresh token: the probe's may be close to expiry on a long run.
            String token = features.login(tenant.slug(), tenant.email());
            byte[] request = Load.get(api.base(), "/t/" + tenant.slug() + "/me", token);
            Load.Result result = Load.run(api.base(), options.connections(), options.warmup(), options.measure(),
                    (worker, i) -> request);
            return result.measured("", "req/s", options.connections() + " connections");
        }

        static Measured recordReads(Api api, Features features, Options options, List<BenchTenant> tenants, String what)
                throws Exception {
            List<BenchTenant> fresh = parallel(tenants, tenant -> tenant.tokenIsOld()
                    ? tenant.withToken(features.login(tenant.slug(), tenant.email())) : tenant);
            List<byte[]> requests = new ArrayList<>();
            for (BenchTenant tenant : fresh) {
                for (String id : tenant.recordIds()) {
                    requests.add(Load.get(api.base(), recordPath(tenant.slug(), id), tenant.token()));
                }
            }
            // Round-robin over tenants: request k goes to tenant k % n (and to one of its records).
            int perTenant = tenants.get(0).recordIds().size();
            AtomicLong next = new AtomicLong();
            int n = tenants.size();
            Load.Result result = Load.run(api.base(), options.connections(), options.warmup(), options.measure(),
                    (worker, i) -> {
                        long k = next.getAndIncrement();
                        int tenant = (int) (k % n);
                        int record = (int) ((k / n) % perTenant);
                        return requests.get(tenant * perTenant + record);
                    });
            return result.measured("", "req/s", options.connections() + " connections, " + what);
        }

        static Measured recordWrites(Api api, Features features, Options options) throws Exception {
            BenchTenant tenant = features.tenant();
            String token = features.login(tenant.slug(), tenant.email());
            byte[] request = Load.post(api.base(), "/t/" + tenant.slug() + "/collections/" + COLLECTION + "/records",
                    "{\"title\":\"bench record\",\"n\":1}", token);
            Load.Result result = Load.run(api.base(), options.connections(), options.warmup(), options.measure(),
                    (worker, i) -> request);
            return result.measured("", "req/s", options.connections() + " connections");
        }

        /** Times POST /admin/tenants alone (sequentially); the admins etc. are prepared afterwards, untimed. */
        static Measured provisioning(Api api, Features features, Options options) {
            int n = options.provisionTenants();
            long[] latencies = new long[n];
            List<String> slugs = new ArrayList<>();
            Cpu before = Cpu.now();
            for (int i = 0; i < n; i++) {
                String slug = features.nextSlug();
                long t0 = System.nanoTime();
                Reply reply = api.call("POST", "/admin/tenants", Map.of("slug", slug, "name", "Bench tenant " + slug),
                        features.operatorKey());
                if (!reply.success()) {
                    throw new Fatal("POST /admin/tenants (" + slug + ") answered " + reply.status() + ": " + abbreviate(reply.body()));
                }
                features.awaitActive(slug, reply);
                latencies[i] = System.nanoTime() - t0;
                slugs.add(slug);
            }
            Cpu after = Cpu.now();
            boolean full = features.missing(Feature.TENANT_ADMINS).isEmpty() && features.missing(Feature.LOGIN).isEmpty();
            if (full) {
                int records = features.missing(Feature.RECORDS).isEmpty() ? recordsPerTenant(options) : 0;
                features.extraTenants().addAll(parallel(slugs, slug -> features.prepareTenant(slug, records)));
            }
            return Measured.latency("", Latencies.of(latencies, n), "sequential `POST /admin/tenants` until active; "
                    + Cpu.used(before, after));
        }

        static Measured manyTenants(Api api, Features features, Options options, int level, ConnectionSampler sampler)
                throws Exception {
            List<BenchTenant> tenants = new ArrayList<>();
            tenants.add(features.tenant());
            tenants.addAll(features.extraTenants());
            if (tenants.size() < level) {
                int missing = level - tenants.size();
                System.err.println("bench: creating " + missing + " more tenants for " + level + " tenants");
                List<String> slugs = new ArrayList<>();
                for (int i = 0; i < missing; i++) {
                    slugs.add(features.nextSlug());
                }
                List<BenchTenant> created = parallel(slugs, slug -> features.createTenant(slug, recordsPerTenant(options)));
                features.extraTenants().addAll(created);
                tenants.addAll(created);
            }
            List<BenchTenant> used = tenants.subList(0, level).stream()
                    .map(t -> t.recordIds().size() > recordsPerTenant(options)
                            ? t.withRecords(t.recordIds().subList(0, recordsPerTenant(options))) : t)
                    .toList();
            sampler.resetWindow();
            Measured measured = recordReads(api, features, options, used, level + " tenant" + (level == 1 ? "" : "s"));
            return new Measured(measured.label(), measured.rate(), measured.unit(),
                    measured.cell() + ", peak " + sampler.tenantWindowPeak() + " tenant connections (budget 64), "
                            + sampler.windowPeak() + " in all",
                    measured.notes(), null, null);
        }

        static Measured tenantHealth(Api api, Features features, Options options, int level, ConnectionSampler sampler)
                throws Exception {
            List<String> slugs = new ArrayList<>();
            slugs.add(features.tenant().slug());
            features.extraTenants().forEach(t -> slugs.add(t.slug()));
            slugs.addAll(features.bareTenants());
            if (slugs.size() < level) {
                int missing = level - slugs.size();
                System.err.println("bench: creating " + missing + " more tenants (no users) for " + level + " tenants");
                List<String> fresh = new ArrayList<>();
                for (int i = 0; i < missing; i++) {
                    fresh.add(features.nextSlug());
                }
                parallel(fresh, slug -> {
                    features.createBareTenant(slug);
                    return slug;
                });
                features.bareTenants().addAll(fresh);
                slugs.addAll(fresh);
            }
            List<byte[]> requests = slugs.subList(0, level).stream()
                    .map(slug -> Load.get(api.base(), "/t/" + slug + "/health", null)).toList();
            AtomicLong next = new AtomicLong();
            sampler.resetWindow();
            Load.Result result = Load.run(api.base(), options.connections(), options.warmup(), options.measure(),
                    (worker, i) -> requests.get((int) (next.getAndIncrement() % level)));
            Measured measured = result.measured("", "req/s", options.connections() + " connections, " + level + " tenants");
            return new Measured(measured.label(), measured.rate(), measured.unit(),
                    measured.cell() + ", peak " + sampler.tenantWindowPeak() + " tenant connections (budget 64), "
                            + sampler.windowPeak() + " in all",
                    measured.notes(), null, null);
        }

        static int recordsPerTenant(Options options) {
            return options.quick() ? 5 : 10;
        }

        /** Setup work with bounded concurrency (4): tenant creation is heavy for the server, not the client. */
        static <S, T> List<T> parallel(List<S> inputs, java.util.function.Function<S, T> work) {
            try (ExecutorService executor = Executors.newFixedThreadPool(4)) {
                List<Future<T>> futures = new ArrayList<>();
                for (S input : inputs) {
                    futures.add(executor.submit(() -> work.apply(input)));
                }
                List<T> results = new ArrayList<>();
                for (Future<T> future : futures) {
                    try {
                        results.add(future.get());
                    } catch (java.util.concurrent.ExecutionException e) {
                        throw e.getCause() instanceof RuntimeException r ? r : new Fatal(e.getCause().toString());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new Fatal("interrupted");
                    }
                }
                return results;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The HTTP load driver

    /**
     * A closed-loop HTTP/1.1 load driver: one virtual thread per connection, each sending a request, reading the
     * whole response, and sending the next (like wrk). Requests are pre-encoded bytes; responses are parsed just
     * enough (status, Content-Length or chunked, Connection: close). Any status outside 2xx or an I/O error is
     * counted as an error, and errors fail the run. Kept minimal so the client spends as little of the shared
     * CPU as it can: the JDK HttpClient costs several times more per request.
     */
    static final class Load {
        interface Source {
            byte[] request(int worker, long iteration);
        }

        /**
         * {@code shed}: 503 {@code busy} answers, Silo's designed outcome when the tenant connection budget is spent
         * past its bounded wait; reported next to the figure, not an error.
         */
        record Result(long requests, long errors, long shed, String firstError, Latencies latencies, double seconds, String cpu) {
            Measured measured(String label, String unit, String what) {
                if (errors > 0) {
                    throw new Fatal(errors + " of " + (requests + errors) + " requests failed (" + what + "); first: " + firstError);
                }
                if (requests == 0) {
                    throw new Fatal("no request completed in " + seconds + " s (" + what + ")");
                }
                String shedNote = shed == 0 ? "" : "; " + shed + " answered 503 busy (connection budget spent), not counted";
                return Measured.throughput(label, requests / seconds, unit, latencies, what + shedNote + "; " + cpu);
            }
        }

        static byte[] get(URI base, String path, String bearer) {
            StringBuilder request = new StringBuilder("GET ").append(path).append(" HTTP/1.1\r\nHost: ")
                    .append(base.getHost()).append(':').append(base.getPort()).append("\r\n");
            if (bearer != null) {
                request.append("Authorization: Bearer ").append(bearer).append("\r\n");
            }
            return request.append("\r\n").toString().getBytes(StandardCharsets.UTF_8);
        }

        static byte[] post(URI base, String path, String json, String bearer) {
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            StringBuilder request = new StringBuilder("POST ").append(path).append(" HTTP/1.1\r\nHost: ")
                    .append(base.getHost()).append(':').append(base.getPort()).append("\r\n")
                    .append("Content-Type: application/json\r\nContent-Length: ").append(body.length).append("\r\n");
            if (bearer != null) {
                request.append("Authorization: Bearer ").append(bearer).append("\r\n");
            }
            byte[] head = request.append("\r\n").toString().getBytes(StandardCharsets.UTF_8);
            byte[] all = Arrays.copyOf(head, head.length + body.length);
            System.arraycopy(body, 0, all, head.length, body.length);
            return all;
        }

        static Result run(URI base, int connections, Duration warmup, Duration measure, Source source) throws Exception {
            long start = System.nanoTime();
            long measureStart = start + warmup.toNanos();
            long end = measureStart + measure.toNanos();
            AtomicLong errors = new AtomicLong();
            AtomicLong shed = new AtomicLong();
            AtomicReference<String> firstError = new AtomicReference<>();
            long[][] latencies = new long[connections][];
            int[] counts = new int[connections];
            List<Thread> workers = new ArrayList<>();
            for (int w = 0; w < connections; w++) {
                int worker = w;
                workers.add(Thread.ofVirtual().name("bench-load-" + w).start(() -> {
                    long[] mine = new long[1 << 14];
                    int count = 0;
                    long iteration = 0;
                    Connection1 connection = null;
                    while (System.nanoTime() < end) {
                        byte[] request = source.request(worker, iteration++);
                        long t0 = System.nanoTime();
                        boolean measured = t0 >= measureStart;
                        try {
                            if (connection == null) {
                                connection = new Connection1(base);
                            }
                            int status = connection.exchange(request);
                            long t1 = System.nanoTime();
                            if (status == 503 && connection.lastBody().contains("/problems/busy")) {
                                shed.incrementAndGet();
                            } else if (status < 200 || status > 299) {
                                errors.incrementAndGet();
                                firstError.compareAndSet(null, "HTTP " + status + ": " + abbreviate(connection.lastBody()));
                            } else if (measured && t1 <= end) {
                                if (count == mine.length) {
                                    mine = Arrays.copyOf(mine, count * 2);
                                }
                                mine[count++] = t1 - t0;
                            }
                            if (connection.closed()) {
                                connection.close();
                                connection = null;
                            }
                        } catch (IOException e) {
                            errors.incrementAndGet();
                            firstError.compareAndSet(null, e.toString());
                            if (connection != null) {
                                connection.close();
                                connection = null;
                            }
                            try {
                                Thread.sleep(10);
                            } catch (InterruptedException interrupted) {
                                return;
                            }
                        }
                    }
                    if (connection != null) {
                        connection.close();
                    }
                    latencies[worker] = mine;
                    counts[worker] = count;
                }));
            }
            sleepUntil(measureStart);
            Cpu before = Cpu.now();
            sleepUntil(end);
            Cpu after = Cpu.now();
            for (Thread worker : workers) {
                worker.join();
            }
            int total = Arrays.stream(counts).sum();
            long[] all = new long[total];
            int offset = 0;
            for (int w = 0; w < connections; w++) {
                System.arraycopy(latencies[w], 0, all, offset, counts[w]);
                offset += counts[w];
            }
            return new Result(total, errors.get(), shed.get(), firstError.get(), Latencies.of(all, total), measure.toNanos() / 1e9,
                    Cpu.used(before, after));
        }
    }

    /** One keep-alive HTTP/1.1 connection with just enough response parsing for the load driver. */
    static final class Connection1 {
        private final Socket socket;
        private final OutputStream out;
        private final InputStream in;
        private final StringBuilder line = new StringBuilder();
        private byte[] body = new byte[8192];
        private int bodyLength;
        private boolean closed;

        Connection1(URI base) throws IOException {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 5000);
            socket.setSoTimeout(60_000);
            out = socket.getOutputStream();
            in = new BufferedInputStream(socket.getInputStream(), 16384);
        }

        int exchange(byte[] request) throws IOException {
            out.write(request);
            out.flush();
            String statusLine = readLine();
            if (!statusLine.startsWith("HTTP/1.1 ") || statusLine.length() < 12) {
                throw new IOException("bad status line: " + abbreviate(statusLine));
            }
            int status = Integer.parseInt(statusLine.substring(9, 12));
            long contentLength = -1;
            boolean chunked = false;
            while (true) {
                String header = readLine();
                if (header.isEmpty()) {
                    break;
                }
                int colon = header.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String name = header.substring(0, colon).strip();
                String value = header.substring(colon + 1).strip();
                if (name.equalsIgnoreCase("Content-Length")) {
                    contentLength = Long.parseLong(value);
                } else if (name.equalsIgnoreCase("Transfer-Encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
                    chunked = true;
                } else if (name.equalsIgnoreCase("Connection") && value.equalsIgnoreCase("close")) {
                    closed = true;
                }
            }
            bodyLength = 0;
            if (chunked) {
                while (true) {
                    String size = readLine();
                    int semicolon = size.indexOf(';');
                    int chunk = Integer.parseInt((semicolon >= 0 ? size.substring(0, semicolon) : size).strip(), 16);
                    if (chunk == 0) {
                        while (!readLine().isEmpty()) {
                            // trailers
                        }
                        break;
                    }
                    readBody(chunk);
                    readLine();
                }
            } else if (contentLength >= 0) {
                readBody((int) contentLength);
            } else if (status != 204 && status != 304) {
                throw new IOException("response without Content-Length or chunked encoding");
            }
            return status;
        }

        private void readBody(int length) throws IOException {
            if (bodyLength + length > body.length) {
                body = Arrays.copyOf(body, Math.max(body.length * 2, bodyLength + length));
            }
            int read = in.readNBytes(body, bodyLength, length);
            if (read < length) {
                throw new IOException("connection closed in the middle of a response body");
            }
            bodyLength += length;
        }

        private String readLine() throws IOException {
            line.setLength(0);
            while (true) {
                int b = in.read();
                if (b < 0) {
                    throw new IOException("connection closed by the server");
                }
                if (b == '\n') {
                    int length = line.length();
                    if (length > 0 && line.charAt(length - 1) == '\r') {
                        line.setLength(length - 1);
                    }
                    return line.toString();
                }
                line.append((char) b);
            }
        }

        String lastBody() {
            return new String(body, 0, bodyLength, StandardCharsets.UTF_8);
        }

        boolean closed() {
            return closed;
        }

        void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}

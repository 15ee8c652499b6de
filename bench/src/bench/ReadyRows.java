package bench;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * Row 20 (issue 18, "Benchmark"): time to ready with 1 tenant and with N (full: 1,000, quick: 20,
 * {@code --ready-tenants}), each on an existing data directory: from launching the JVM (./silo's JVM options, as
 * every Silo the harness starts) to the first 200 of {@code GET /health/ready} (the log polled every 50 ms for the
 * URL, then {@code /health/ready} every 10 ms, as row 11 does). The starts alternate (1, N, 1, N, ...; full: 3 each,
 * quick: 1) and each side's figure is its median. The N-tenant directory is row 13's when row 13 ran in this run
 * (its filler tenants, topped up to N if fewer), otherwise one made for the row with {@code POST /admin/tenants}
 * from 4 client threads. Both sides run with {@code SILO_TENANT_SPARES=0}, so no spare database is made during a
 * timed start. Goal: the same within noise.
 */
final class ReadyRows {
    private static final Map<String, String> ENV = Map.of("SILO_TENANT_SPARES", "0");

    private final Harness harness;
    private final Options options;

    ReadyRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure() {
        int level = options.readyTenants();
        int starts = options.quick() ? 1 : 3;
        boolean reuse = options.wants("13") && Files.isDirectory(options.work().resolve("data-provision"));
        // As row 11: the timed starts find ./silo's class data sharing archive, as a user's second start does.
        harness.attempt("class data sharing archive for the start rows", () -> StartRows.ensureClassArchive(options));
        SiloProcess[] dirs = new SiloProcess[2];
        int[] tenants = new int[2];
        String[] setup = {""};
        Measured prepared = harness.attempt("time to ready: the 1-tenant and the " + level + "-tenant data directories", () -> {
            // The untimed first start of each directory: fresh ones are initialised, the tenants made.
            dirs[0] = new SiloProcess(options, "ready-one", ENV);
            dirs[1] = new SiloProcess(options, reuse ? "provision" : "ready-many", ENV);
            try {
                Cluster.startAll(List.of(dirs[0], dirs[1]));
                fill(dirs[0], 1);
                long t0 = System.nanoTime();
                int made = fill(dirs[1], level);
                double seconds = (System.nanoTime() - t0) / 1e9;
                tenants[0] = count(dirs[0]);
                tenants[1] = count(dirs[1]);
                setup[0] = (reuse ? "the N-tenant directory is row 13's (" + (tenants[1] - made) + " tenants), " : "the N-tenant directory was made for the row, ")
                        + String.format(Locale.ROOT, "%d tenants created for it in %.0f s (4 client threads)", made, seconds);
            } finally {
                Cluster.stopAll(List.of(dirs[0], dirs[1]));
            }
            return null;
        });
        if (prepared != null) {
            harness.add(new Row("20", "time to `/health/ready` 200 on an existing data directory, " + level
                    + " tenants vs 1 tenant", prepared.cell(), "—", "—", prepared.notes() == null ? "" : prepared.notes()));
            return;
        }
        List<Double> one = new ArrayList<>();
        List<Double> many = new ArrayList<>();
        Measured timed = harness.attempt("time to ready with " + tenants[0] + " and " + tenants[1] + " tenants, " + starts
                + " start" + (starts == 1 ? "" : "s") + " each", () -> {
            for (int i = 0; i < starts; i++) {
                one.add(startToReady(dirs[0].name()));
                many.add(startToReady(dirs[1].name()));
            }
            return null;
        });
        if (timed != null) {
            harness.add(new Row("20", "time to `/health/ready` 200 on an existing data directory, " + level
                    + " tenants vs 1 tenant", timed.cell(), "—", "—", timed.notes() == null ? "" : timed.notes()));
            return;
        }
        double manyMedian = median(many);
        double oneMedian = median(one);
        harness.add(new Row("20", "time to `/health/ready` 200 on an existing data directory, " + String.format(Locale.ROOT, "%,d", tenants[1])
                + " tenants vs " + tenants[0] + " (JVM start included; goal: the same within noise; ratio: time ÷ time with 1)",
                cell(manyMedian, many, tenants[1]), cell(oneMedian, one, tenants[0]),
                String.format(Locale.ROOT, "%.2f", manyMedian / oneMedian),
                "from launching `java -jar target/silo.jar serve` (./silo's JVM options; log polled every 50 ms, then "
                        + "`/health/ready` every 10 ms); starts alternate; `SILO_TENANT_SPARES=0` on both; " + setup[0]));
    }

    private static String cell(double median, List<Double> all, int tenants) {
        String each = all.stream().map(s -> String.format(Locale.ROOT, "%.2f", s)).collect(Collectors.joining(", "));
        return String.format(Locale.ROOT, "%.2f s", median) + (all.size() > 1 ? " (median of " + each + " s)" : "")
                + ", " + String.format(Locale.ROOT, "%,d", tenants) + " tenant" + (tenants == 1 ? "" : "s");
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** Creates tenants until the Silo holds {@code level}; returns how many it created. */
    private int fill(SiloProcess silo, int level) throws Exception {
        int missing = Math.max(0, level - count(silo));
        if (missing == 0) {
            return 0;
        }
        Api api = new Api(silo.baseUri());
        String key = silo.operatorKey().orElseThrow(() -> new Fatal("no bootstrap operator key in " + silo.dataDir()));
        if (missing > 1) {
            harness.progress("row 20: creating " + missing + " tenants on " + silo.dataDir() + " (4 client threads; "
                    + "at 1,000 this takes minutes)");
        }
        List<String> slugs = new ArrayList<>();
        for (int i = 0; i < missing; i++) {
            slugs.add(String.format(Locale.ROOT, "ready-%s-%05d", silo.name().replace("ready-", ""), i));
        }
        AtomicInteger made = new AtomicInteger();
        SiloRows.parallel(slugs, slug -> {
            StartRows.createActive(api, key, slug);
            int done = made.incrementAndGet();
            if (done % 100 == 0) {
                harness.progress("row 20: " + done + " of " + slugs.size() + " tenants");
            }
            return slug;
        });
        return missing;
    }

    private static int count(SiloProcess silo) throws Exception {
        try (Connection catalog = Postgres.open(silo, dev.silo.app.Silo.CATALOG_DATABASE);
             Statement statement = catalog.createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM tenants")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Starts a Silo on the existing data directory of {@code name}, times it to ready, stops it. */
    private double startToReady(String name) throws Exception {
        SiloProcess silo = new SiloProcess(options, name, ENV);
        try {
            silo.start();
            Api api = new Api(silo.baseUri());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            Reply reply;
            while ((reply = api.call("GET", "/health/ready", null, null)).status() != 200) {
                if (System.nanoTime() > deadline) {
                    throw new Fatal("GET /health/ready answered " + reply.status() + " for 120 s after Silo said it was ready");
                }
                Thread.sleep(10);
            }
            return (System.nanoTime() - silo.launchedAt()) / 1e9;
        } finally {
            silo.stop();
        }
    }
}

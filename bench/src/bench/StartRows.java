package bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Row 11 (issue 15, goal 4): start to ready. A Silo started for this row (the JVM options of {@code ./silo}) is
 * timed from the moment its JVM is launched to the first 200 of {@code GET /health/ready}: on an empty data
 * directory (goal < 6 s), again on the same, now existing, directory (goal < 3 s), and once more after N tenants
 * were created on it (full: 100, quick: 10), to show whether start grows with the number of tenants.
 */
final class StartRows {
    private final Harness harness;
    private final Options options;

    StartRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure() {
        int tenants = options.quick() ? 10 : 100;
        harness.attempt("class data sharing archive for the start rows", () -> ensureClassArchive(options));
        String[] operatorKey = new String[1];
        Measured empty = harness.attempt("start to ready, empty data directory", () -> startToReady(silo -> {
            operatorKey[0] = silo.operatorKey().orElseThrow(() -> new Fatal("no bootstrap operator key after the first start"));
        }));
        // Once timed, this start creates the tenants of the next one.
        Measured existing = empty.ok() ? harness.attempt("start to ready, existing data directory",
                () -> startToReady(silo -> createTenants(new Api(silo.baseUri()), operatorKey[0], tenants))) : empty;
        Measured many = existing.ok() ? harness.attempt("start to ready, existing data directory with " + tenants + " tenants",
                () -> startToReady(silo -> {})) : existing;
        harness.add(row("start to `/health/ready` 200, empty data directory (JVM start included; goal < 6 s)", empty, 6));
        harness.add(row("start to `/health/ready` 200, existing data directory, no tenant (goal < 3 s)", existing, 3));
        harness.add(row("start to `/health/ready` 200, existing data directory, " + tenants + " tenants (vs no tenant: "
                + "does start grow with tenants?)", many, existing));
    }

    /**
     * ./silo keeps a class data sharing archive of {@code serve} next to the jar, written when a node stops and
     * used from the next start on (README "Start"): as after a user's first start, the timed starts (and the main
     * Silo, whose memory row 10 measures) find it. Untimed: a start and stop on a data directory of its own, only when
     * the archive is missing or older than the jar.
     */
    static Measured ensureClassArchive(Options options) throws Exception {
        java.nio.file.Path archive = Machine.classArchive(options.jar());
        if (Runtime.version().feature() < 19 || (java.nio.file.Files.exists(archive)
                && java.nio.file.Files.getLastModifiedTime(archive).compareTo(java.nio.file.Files.getLastModifiedTime(options.jar())) > 0)) {
            return new Measured("", 0, "", "", "", null, null);
        }
        // Deleted first: the JVM keeps a stale archive at exit instead of writing a new one (seen with JDK 25).
        java.nio.file.Files.deleteIfExists(archive);
        Machine.createClassArchive = true;
        try {
            SiloProcess silo = new SiloProcess(options, "start-archive", Map.of());
            try {
                silo.start();
            } finally {
                silo.stop();
            }
        } finally {
            Machine.createClassArchive = false;
        }
        return new Measured("", 0, "", "", "", null, null);
    }

    interface AfterReady {
        void accept(SiloProcess silo) throws Exception;
    }

    /** Starts the row's Silo on its data directory, times it to ready, runs {@code then}, stops it. */
    private Measured startToReady(AfterReady then) throws Exception {
        SiloProcess silo = new SiloProcess(options, "start", Map.of());
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
            double seconds = (System.nanoTime() - silo.launchedAt()) / 1e9;
            // The CPU the JVM used to get there: steadier than the wall time on a shared machine.
            double cpu = Cpu.processSeconds(silo.pid());
            double load = Cpu.loadAverage();
            then.accept(silo);
            return new Measured("", 1 / seconds, "1/s", String.format(Locale.ROOT, "%.2f s", seconds),
                    String.format(Locale.ROOT, "from launching `java -jar target/silo.jar serve` (log polled every 50 ms, then "
                            + "`/health/ready` every 10 ms); Silo JVM CPU %.1f s by then; load average %.1f", cpu, load),
                    null, null);
        } finally {
            silo.stop();
        }
    }

    private static void createTenants(Api api, String operatorKey, int count) {
        List<String> slugs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            slugs.add(String.format(Locale.ROOT, "bench-start-%03d", i));
        }
        SiloRows.parallel(slugs, slug -> {
            createActive(api, operatorKey, slug);
            return slug;
        });
    }

    /** Creates one tenant through the API and waits (at most 120 s) until it is active. */
    static void createActive(Api api, String operatorKey, String slug) {
        Reply created = api.call("POST", "/admin/tenants", Map.of("slug", slug, "name", "Bench tenant " + slug), operatorKey);
        if (!created.success()) {
            throw new Fatal("POST /admin/tenants (" + slug + ") answered " + created.status() + ": "
                    + Format.abbreviate(created.body()));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!"active".equals(api.expect("GET", "/admin/tenants/" + slug, null, operatorKey).path("status").asText())) {
            if (System.nanoTime() > deadline) {
                throw new Fatal("tenant " + slug + " was not active within 120 s");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Fatal("interrupted");
            }
        }
    }

    /** Against a goal in seconds: ratio = seconds ÷ goal (≤ 1.00 meets it). */
    private Row row(String name, Measured measured, double goalSeconds) {
        String ratio = measured.ok() ? String.format(Locale.ROOT, "%.2f", 1 / measured.rate() / goalSeconds) : "—";
        return new Row("11", name, measured.cell(), String.format(Locale.ROOT, "goal %.0f s", goalSeconds), ratio,
                measured.notes() == null ? "" : measured.notes() + "; ratio: time ÷ goal");
    }

    /** Against another start: ratio = this time ÷ that time. */
    private Row row(String name, Measured measured, Measured reference) {
        String ratio = measured.ok() && reference.ok() ? String.format(Locale.ROOT, "%.2f", reference.rate() / measured.rate()) : "—";
        return new Row("11", name, measured.cell(), reference.ok() ? "no tenant: " + reference.cell() : reference.cell(), ratio,
                (measured.notes() == null ? "" : measured.notes() + "; ") + "ratio: time ÷ the time with no tenant");
    }
}

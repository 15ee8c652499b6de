package bench;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Row 14 (issue 15.8): record reads over N tenants (full: 1,000) the way traffic arrives, on the main Silo. (a) Each
 * request's tenant drawn from a Zipf distribution (s = 1.1: the most used tenant gets the most requests, the k-th
 * 1/k^1.1 as many), against the single-tenant read rate measured just before in the same run, with the peak of
 * tenant connections (budget 64); (b) round-robin over the same N tenants against {@code pgbench -C -S} (a new TLS
 * connection per select), as row 5 does. Each phase also counts the PostgreSQL sessions opened meanwhile (the
 * {@code sessions} counter of {@code pg_stat_database} for tenant databases): connection churn, per request.
 */
final class ZipfRows {
    static final double EXPONENT = 1.1;

    private final Harness harness;
    private final Options options;

    ZipfRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure(SiloProcess silo, Postgres postgres, Api api, Features features, ConnectionSampler sampler) {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.RECORDS);
        Optional<Measured> unavailable = harness.unavailable(features, needs);
        int n = options.zipfTenants();
        String many = String.format(Locale.ROOT, "%,d", n) + " tenants";
        Measured pgConnect = pgbenchConnect(silo, postgres);
        List<BenchTenant> tenants = new ArrayList<>();
        if (unavailable.isEmpty()) {
            harness.attempt("row 14: preparing " + many, () -> {
                tenants.addAll(tenantsFor(features, n));
                return null;
            });
        }
        Measured single = unavailable.orElseGet(() -> tenants.isEmpty() ? Measured.error("no tenants")
                : harness.attempt("row 14: 1 tenant", () -> phase(api, features, List.of(tenants.get(0)), "1 tenant",
                        sampler, postgres, null)));
        // Rank k (1-based) is tenant order[k - 1]: a fixed shuffle, so the hottest tenant is not the one just measured alone.
        List<BenchTenant> byRank = new ArrayList<>(tenants);
        Collections.shuffle(byRank, new Random(15));
        double[] cdf = zipfCdf(n, EXPONENT);
        Measured zipf = unavailable.orElseGet(() -> tenants.isEmpty() ? Measured.error("no tenants")
                : harness.attempt("row 14: Zipf over " + many, () -> phase(api, features, byRank,
                        many + " by Zipf (s = " + EXPONENT + (n > Bench.TENANT_BUDGET ? "; the top " + Bench.TENANT_BUDGET
                                + " tenants get " + String.format(Locale.ROOT, "%.0f%%", 100 * cdf[Bench.TENANT_BUDGET - 1])
                                + " of requests" : "") + ")", sampler, postgres, cdf)));
        Measured roundRobin = unavailable.orElseGet(() -> tenants.isEmpty() ? Measured.error("no tenants")
                : harness.attempt("row 14: round-robin over " + many, () -> phase(api, features, tenants,
                        many + " round-robin", sampler, postgres, null)));
        harness.add(harness.row("14", "many tenants: record reads, " + many + " chosen by Zipf (s = " + EXPONENT
                + ") vs 1 tenant (goal ≥ 0.80, tenant connections ≤ " + Bench.TENANT_BUDGET + ")", zipf,
                single.ok() ? single.asReference("Silo, 1 tenant", null) : single));
        boolean above = n > Bench.TENANT_BUDGET;
        harness.add(harness.row("14", "many tenants: record reads, " + many + " round-robin"
                + (above ? "" : " (not above the budget of " + Bench.TENANT_BUDGET + " in this run)")
                + " vs `pgbench -C -S`, a new connection per select (goal ≥ 0.80)", roundRobin, pgConnect));
        harness.add(harness.row("14", "many tenants: record reads, " + many + " round-robin vs 1 tenant (context)",
                roundRobin, single.ok() ? single.asReference("Silo, 1 tenant", null) : single));
    }

    /** {@code pgbench -C -S} as row 5 runs it (the {@code bench} database made by {@code pgbench -i} if rows 1-5 did not). */
    private Measured pgbenchConnect(SiloProcess silo, Postgres postgres) {
        Optional<Path> pgbench = options.pgbench();
        if (pgbench.isEmpty()) {
            return Measured.skipped("no pgbench on this machine (Debian: apt-get install postgresql-client)");
        }
        return harness.attempt("row 14: pgbench -C -S", () -> {
            if (!benchDatabaseExists(postgres)) {
                Raw.pgbenchInit(options, silo, postgres, pgbench.get());
            }
            return Raw.pgbench(options, silo, pgbench.get(), "connect-per-select-14", List.of("-S", "-C"));
        });
    }

    private static boolean benchDatabaseExists(Postgres postgres) throws SQLException {
        try (Statement statement = postgres.connection().createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM pg_database WHERE datname = 'bench'")) {
            rs.next();
            return rs.getInt(1) > 0;
        }
    }

    /** The first {@code n} tenants with records (those rows 1-5 made, when they ran), creating the missing ones. */
    private List<BenchTenant> tenantsFor(Features features, int n) {
        int records = SiloRows.recordsPerTenant(options);
        List<BenchTenant> tenants = new ArrayList<>();
        tenants.add(features.tenant());
        tenants.addAll(features.extraTenants());
        if (tenants.size() < n) {
            int missing = n - tenants.size();
            harness.progress("row 14: creating " + missing + " more tenants with records for " + n + " tenants");
            long t0 = System.nanoTime();
            List<String> slugs = new ArrayList<>();
            for (int i = 0; i < missing; i++) {
                slugs.add(features.nextSlug());
            }
            List<BenchTenant> created = SiloRows.parallel(slugs, slug -> features.createTenant(slug, records));
            features.extraTenants().addAll(created);
            tenants.addAll(created);
            harness.progress(String.format(Locale.ROOT, "row 14: %d tenants made in %.0f s", missing,
                    (System.nanoTime() - t0) / 1e9));
        }
        return tenants.subList(0, n).stream()
                .map(t -> t.recordIds().size() > records ? t.withRecords(t.recordIds().subList(0, records)) : t)
                .toList();
    }

    /** Cumulative probabilities of ranks 1..n under Zipf with exponent s. */
    static double[] zipfCdf(int n, double s) {
        double[] cdf = new double[n];
        double sum = 0;
        for (int k = 1; k <= n; k++) {
            sum += 1 / Math.pow(k, s);
            cdf[k - 1] = sum;
        }
        for (int k = 0; k < n; k++) {
            cdf[k] /= sum;
        }
        return cdf;
    }

    static int zipfIndex(double[] cdf, double u) {
        int index = java.util.Arrays.binarySearch(cdf, u);
        return Math.min(cdf.length - 1, index >= 0 ? index : -index - 1);
    }

    /**
     * Record reads over {@code tenants}: by Zipf rank when {@code cdf} is given, round-robin otherwise; the cell
     * adds the peak of tenant connections and the PostgreSQL sessions opened per request.
     */
    private Measured phase(Api api, Features features, List<BenchTenant> tenants, String what, ConnectionSampler sampler,
                           Postgres postgres, double[] cdf) throws Exception {
        List<BenchTenant> fresh = SiloRows.parallel(tenants, tenant -> tenant.tokenIsOld()
                ? tenant.withToken(features.login(tenant.slug(), tenant.email())) : tenant);
        int perTenant = fresh.get(0).recordIds().size();
        List<byte[]> requests = new ArrayList<>();
        for (BenchTenant tenant : fresh) {
            for (String id : tenant.recordIds().subList(0, perTenant)) {
                requests.add(Load.get(api.base(), Features.recordPath(tenant.slug(), id), tenant.token()));
            }
        }
        int n = fresh.size();
        AtomicLong next = new AtomicLong();
        Load.Source source = cdf == null
                ? (worker, i) -> {
                    long k = next.getAndIncrement();
                    return requests.get((int) (k % n) * perTenant + (int) ((k / n) % perTenant));
                }
                : (worker, i) -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    return requests.get(zipfIndex(cdf, random.nextDouble()) * perTenant + random.nextInt(perTenant));
                };
        sampler.resetWindow();
        long sessionsBefore = tenantSessions(postgres);
        long t0 = System.nanoTime();
        Load.Result result = Load.run(api.base(), options.connections(), options.warmup(), options.measure(), source);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Thread.sleep(1000); // backends report their session statistics as they end, at most every second
        long sessions = tenantSessions(postgres) - sessionsBefore;
        Measured measured = result.measured("", "req/s", options.connections() + " connections, " + what);
        double perSecond = sessions / seconds;
        return new Measured(measured.label(), measured.rate(), measured.unit(),
                measured.cell() + ", peak " + sampler.tenantWindowPeak() + " tenant connections (budget "
                        + Bench.TENANT_BUDGET + "), " + sampler.windowPeak() + " in all; "
                        + String.format(Locale.ROOT, "%.0f new tenant sessions/s (%.2f per request)", perSecond,
                        measured.rate() > 0 ? perSecond / measured.rate() : 0),
                measured.notes(), null, null);
    }

    /** Sessions ever opened on tenant databases ({@code t_...}), from {@code pg_stat_database}. */
    private static long tenantSessions(Postgres postgres) throws SQLException {
        Connection connection = postgres.connection();
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery(
                     "SELECT coalesce(sum(sessions), 0) FROM pg_stat_database WHERE datname LIKE 't\\_%'")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}

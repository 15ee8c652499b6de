package bench;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Rows 1-5 (issue 6): login vs bcrypt, the token check vs HS256 and /health/live, record reads and writes vs
 * pgbench, tenant provisioning vs plain SQL, and record reads over many tenants. The raw limits are measured
 * first, while Silo is idle.
 */
final class CoreRows {
    private final Harness harness;
    private final Options options;

    CoreRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure(SiloProcess silo, Postgres postgres, Api api, Features features, ConnectionSampler sampler) {
        // Raw limits first, while Silo is idle, so they do not compete with its warm-up.
        Measured bcrypt1 = harness.attempt("raw bcrypt, 1 thread", () -> Raw.bcrypt(options, 1));
        Measured bcrypt2 = harness.attempt("raw bcrypt, 2 threads", () -> Raw.bcrypt(options, 2));
        Measured hs1 = harness.attempt("raw HS256, 1 thread", () -> Raw.hs256(options, 1));
        Measured hs2 = harness.attempt("raw HS256, 2 threads", () -> Raw.hs256(options, 2));

        // 1. login
        for (int threads : new int[] {1, 2}) {
            Measured raw = threads == 1 ? bcrypt1 : bcrypt2;
            Measured measured = harness.siloRow("login, " + threads + " client thread" + (threads == 1 ? "" : "s"), features,
                    List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN),
                    () -> SiloRows.login(api, features, options, threads));
            harness.add(harness.row("1", "login, " + threads + " client thread" + (threads == 1 ? "" : "s")
                            + " (logins/s vs bcrypt verify/s, cost " + options.bcryptCost() + ")",
                    measured, raw));
        }

        // 2. token check
        Measured live = harness.attempt("GET /health/live", () -> SiloRows.trivialRoute(api, options));
        Measured me = harness.siloRow("GET /t/{tenant}/me", features, List.of(Feature.TENANTS, Feature.TENANT_ADMINS,
                Feature.LOGIN, Feature.ME), () -> SiloRows.me(api, features, options));
        harness.add(harness.row("2", "token check: authenticated `GET /t/{tenant}/me` vs unauthenticated `GET /health/live`",
                me, live));
        Measured hs = hs2.ok() && hs1.ok()
                ? new Measured(hs2.label(), hs2.rate(), hs2.unit(), hs2.cell() + " (1 thread: " + Format.rate(hs1.rate()) + " /s)",
                        hs2.notes(), null, null)
                : hs2.ok() ? hs1 : hs2;
        harness.add(harness.row("2", "token check: `GET /t/{tenant}/me` vs raw HS256 verify (Nimbus, 2 threads)", me, hs));

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
            Measured init = harness.attempt("pgbench -i", () -> {
                Raw.pgbenchInit(options, silo, postgres, pgbench.get());
                return null;
            });
            if (init != null && init.error() != null) {
                pgRead = init;
                pgWrite = init;
                pgConnect = init;
            } else {
                pgRead = harness.attempt("pgbench -S", () -> Raw.pgbench(options, silo, pgbench.get(), "select-only",
                        List.of("-S", "-M", "prepared")));
                pgWrite = harness.attempt("pgbench INSERT", () -> Raw.pgbench(options, silo, pgbench.get(), "insert",
                        List.of("-M", "prepared", "-f", Raw.insertScript(options).toString())));
                // The raw side of row 5 when more tenants are in use than the budget has connections: every
                // request then needs a new connection (TLS handshake, authentication, a new backend).
                pgConnect = options.tenantLevels().stream().anyMatch(level -> level > Bench.TENANT_BUDGET)
                        ? harness.attempt("pgbench -C -S", () -> Raw.pgbench(options, silo, pgbench.get(), "connect-per-select",
                                List.of("-S", "-C")))
                        : Measured.skipped("no tenant level above the budget of " + Bench.TENANT_BUDGET);
            }
        }
        List<Feature> recordFeatures = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.RECORDS);
        Measured read = harness.siloRow("record reads", features, recordFeatures,
                () -> SiloRows.recordReads(api, features, options, List.of(features.tenant()), "1 tenant"));
        Measured write = harness.siloRow("record writes", features, recordFeatures,
                () -> SiloRows.recordWrites(api, features, options));
        harness.add(harness.row("3", "records: read by id (req/s vs `pgbench -S` tps)", read, pgRead));
        // What bounds row 3 on one machine: a record read does all that /me does (HTTP, token, tenant) and then a
        // database round trip, and no HTTP route, however trivial, goes faster than /health/live.
        harness.add(harness.row("3", "records: read by id vs authenticated `GET /t/{tenant}/me` (the share left after the database read)",
                read, me));
        harness.add(harness.row("3", "ceiling: unauthenticated `GET /health/live` vs `pgbench -S` (no HTTP route can beat this ratio)",
                live, pgRead));
        harness.add(harness.row("3", "records: create (req/s vs plain INSERT tps, same PostgreSQL)", write, pgWrite));

        // 4. provisioning
        Measured rawProvision = harness.attempt("raw provisioning", () -> Raw.provisioning(options, postgres));
        Measured provision = harness.siloRow("provisioning", features, List.of(Feature.TENANTS),
                () -> SiloRows.provisioning(api, features, options));
        harness.add(harness.row("4", "provisioning: tenant creation p50/p95 (vs role + database + REVOKE over SQL)",
                provision, rawProvision));

        // 5. many tenants
        Measured base = null;
        for (int level : options.tenantLevels()) {
            Measured measured = harness.siloRow("many tenants " + level, features, recordFeatures,
                    () -> SiloRows.manyTenants(api, features, options, level, sampler));
            boolean churn = level > Bench.TENANT_BUDGET;
            Measured reference = churn ? pgConnect
                    : base != null ? base
                    : pgRead.ok() ? pgRead.asReference("`pgbench -S`", "as in row 3")
                    : pgRead;
            String name = "many tenants: record reads, " + level + " tenant" + (level == 1 ? "" : "s")
                    + " round-robin (vs " + (churn ? "`pgbench -C -S`, a new connection per select"
                    : base != null ? "1st level" : "`pgbench -S`") + ")";
            harness.add(harness.row("5", name, measured, reference));
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
            Measured measured = harness.siloRow("tenant health " + level, features, List.of(Feature.TENANTS),
                    () -> SiloRows.tenantHealth(api, features, options, level, sampler));
            boolean churn = level > Bench.TENANT_BUDGET;
            Measured reference = churn ? pgConnect
                    : pgRead.ok() ? pgRead.asReference("`pgbench -S`", "as in row 3") : pgRead;
            harness.add(harness.row("5", "many tenants: `GET /t/{tenant}/health` (one query as each tenant's role), " + level
                    + " tenant" + (level == 1 ? "" : "s") + " round-robin (vs "
                    + (churn ? "`pgbench -C -S`, a new connection per select" : "`pgbench -S`") + ")", measured, reference));
        }
    }
}

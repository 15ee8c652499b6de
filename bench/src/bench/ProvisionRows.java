package bench;

import com.fasterxml.jackson.databind.JsonNode;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Row 13 (issue 15.7): tenant creation p50/p99 at 1 and at N existing tenants (full: 1,000), with spare databases
 * ({@code SILO_TENANT_SPARES}, default 2) and without ({@code SILO_TENANT_SPARES=0}), creations spaced as a signup
 * flow would space them (one every {@link #SPACING}) and back to back (a burst, which falls back to provisioning
 * once the spares run out).
 *
 * <p>Three Silos, one at a time, none of them the main one: (A) spares on, a fresh data directory: one tenant, the
 * phases at 1, then the filler tenants up to N (the fastest path: {@code POST /admin/tenants} from 4 client threads,
 * timed), the phases at N; (B) the same data directory restarted with spares off: the phases at N; (C) spares
 * off, a fresh data directory: one tenant, the phases at 1. Each phase's reference is the other setting at the
 * same level, and each level's reference for the N-tenant phase is the 1-tenant phase of the same setting.
 */
final class ProvisionRows {
    static final Duration SPACING = Duration.ofMillis(1500);
    private static final double GOAL_MILLIS = 25;
    private static final String CATALOG = dev.silo.app.Silo.CATALOG_DATABASE;

    private final Harness harness;
    private final Options options;
    private final AtomicInteger slugs = new AtomicInteger();

    ProvisionRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    /** One phase's latencies and how many of its creates found a ready spare in the pool. */
    private record Phase(Latencies latencies, int fromSpare, int existing, String cpu) {
        double p50() {
            return latencies.percentile(0.50);
        }

        String cell() {
            return "p50 " + Format.millis(p50()) + ", p99 " + Format.millis(latencies.percentile(0.99)) + " over "
                    + latencies.count() + " (" + fromSpare + " with a ready spare), " + existing + " existing";
        }
    }

    /** Phases by setting ("on"/"off"), level ("1"/"N") and pattern ("spaced"/"burst"). */
    private final Map<String, Phase> phases = new java.util.LinkedHashMap<>();
    private final List<String> problems = new ArrayList<>();
    private String fillerNote = "";

    void measure() {
        int spaced = options.quick() ? 3 : 10;
        int burst = options.quick() ? 4 : 10;
        int filler = options.fillerTenants();
        String operatorKey = null;

        // A: spares on, fresh.
        SiloProcess on = new SiloProcess(options, "provision", Map.of("SILO_TENANT_SPARES", "2"));
        try {
            on.start();
            Cpu.init(on);
            Api api = new Api(on.baseUri());
            operatorKey = on.operatorKey().orElseThrow(() -> new Fatal("no bootstrap operator key after the first start"));
            create(api, operatorKey); // the one existing tenant
            phasesAt(on, api, operatorKey, "on", "1", spaced, burst);
            int existing = tenantCount(on);
            int missing = Math.max(0, filler - existing);
            harness.progress("row 13: creating " + missing + " filler tenants (4 client threads)");
            long t0 = System.nanoTime();
            List<Integer> indexes = new ArrayList<>();
            for (int i = 0; i < missing; i++) {
                indexes.add(i);
            }
            String key = operatorKey;
            SiloRows.parallel(indexes, i -> create(api, key));
            double seconds = (System.nanoTime() - t0) / 1e9;
            fillerNote = String.format(Locale.ROOT, "setup: %d filler tenants in %.0f s (%.0f ms each, 4 client threads, "
                    + "`POST /admin/tenants`, spares on)", missing, seconds, missing == 0 ? 0 : seconds * 1000 / missing);
            harness.progress("row 13: " + fillerNote);
            phasesAt(on, api, operatorKey, "on", "N", spaced, burst);
        } catch (Exception e) {
            problems.add("spares on: " + e.getMessage());
        } finally {
            on.stop();
        }

        // B: the same data directory, spares off.
        if (operatorKey != null && problems.isEmpty()) {
            SiloProcess off = new SiloProcess(options, "provision", Map.of("SILO_TENANT_SPARES", "0"));
            try {
                off.start();
                Cpu.init(off);
                Api api = new Api(off.baseUri());
                awaitSpares(off, 0);
                phasesAt(off, api, operatorKey, "off", "N", spaced, burst);
            } catch (Exception e) {
                problems.add("spares off, " + filler + " tenants: " + e.getMessage());
            } finally {
                off.stop();
            }
        }

        // C: spares off, fresh.
        SiloProcess offFresh = new SiloProcess(options, "provision-nospares", Map.of("SILO_TENANT_SPARES", "0"));
        try {
            offFresh.start();
            Cpu.init(offFresh);
            Api api = new Api(offFresh.baseUri());
            String key = offFresh.operatorKey().orElseThrow(() -> new Fatal("no bootstrap operator key after the first start"));
            create(api, key);
            phasesAt(offFresh, api, key, "off", "1", spaced, burst);
        } catch (Exception e) {
            problems.add("spares off, 1 tenant: " + e.getMessage());
        } finally {
            offFresh.stop();
            Cpu.init(harness.silo());
        }
        harness.errors().addAll(problems.stream().map(p -> "row 13: " + p).toList());
        addRows(filler, spaced, burst);
    }

    private void phasesAt(SiloProcess silo, Api api, String key, String setting, String level, int spaced, int burst)
            throws Exception {
        int target = "on".equals(setting) ? 2 : 0;
        for (String pattern : List.of("spaced", "burst")) {
            awaitSpares(silo, target);
            int existing = tenantCount(silo);
            harness.progress("row 13: spares " + setting + ", " + existing + " existing tenants, " + pattern);
            int n = "spaced".equals(pattern) ? spaced : burst;
            long[] latencies = new long[n];
            int fromSpare = 0;
            Cpu before = Cpu.now();
            try (Connection catalog = Postgres.open(silo, CATALOG)) {
                for (int i = 0; i < n; i++) {
                    if ("spaced".equals(pattern) && i > 0) {
                        Thread.sleep(SPACING.toMillis());
                    }
                    fromSpare += readySpares(catalog) > 0 ? 1 : 0;
                    latencies[i] = create(api, key);
                }
            }
            Cpu after = Cpu.now();
            phases.put(setting + "/" + level + "/" + pattern, new Phase(Latencies.of(latencies, n), fromSpare, existing,
                    Cpu.used(before, after)));
        }
    }

    /** Creates one tenant until active; returns the time it took in nanoseconds. */
    private long create(Api api, String key) {
        String slug = String.format(Locale.ROOT, "prov-%05d", slugs.incrementAndGet());
        long t0 = System.nanoTime();
        Reply reply = api.call("POST", "/admin/tenants", Map.of("slug", slug, "name", "Bench tenant " + slug), key);
        if (!reply.success()) {
            throw new Fatal("POST /admin/tenants (" + slug + ") answered " + reply.status() + ": " + Format.abbreviate(reply.body()));
        }
        JsonNode status = reply.body().isBlank() ? null : reply.json().get("status");
        long deadline = t0 + TimeUnit.SECONDS.toNanos(120);
        boolean active = reply.status() != 202 && (status == null || "active".equals(status.asText()));
        while (!active) {
            if (System.nanoTime() > deadline) {
                throw new Fatal("tenant " + slug + " was not active within 120 s of its creation");
            }
            active = "active".equals(api.expect("GET", "/admin/tenants/" + slug, null, key).path("status").asText());
            if (!active) {
                sleep(20);
            }
        }
        return System.nanoTime() - t0;
    }

    /** Waits (bounded, 180 s) until the pool holds exactly {@code target} ready spares and none being made or dropped. */
    private void awaitSpares(SiloProcess silo, int target) throws SQLException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        try (Connection catalog = Postgres.open(silo, CATALOG); Statement statement = catalog.createStatement()) {
            while (true) {
                try (ResultSet rs = statement.executeQuery(
                        "SELECT count(*) FILTER (WHERE state = 'ready'), count(*) FROM tenant_spares")) {
                    rs.next();
                    if (rs.getInt(1) == target && rs.getInt(2) == target) {
                        return;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new Fatal("the spare pool did not reach " + target + " ready spares within 180 s (ready "
                                + rs.getInt(1) + ", all " + rs.getInt(2) + ")");
                    }
                }
                sleep(100);
            }
        }
    }

    private static int readySpares(Connection catalog) throws SQLException {
        try (Statement statement = catalog.createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM tenant_spares WHERE state = 'ready'")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static int tenantCount(SiloProcess silo) throws SQLException {
        try (Connection catalog = Postgres.open(silo, CATALOG); Statement statement = catalog.createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM tenants")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Fatal("interrupted");
        }
    }

    private void addRows(int filler, int spaced, int burst) {
        String n = String.format(Locale.ROOT, "%,d", filler);
        String spacing = "one every " + Format.seconds(SPACING);
        for (String level : List.of("1", "N")) {
            String at = "1".equals(level) ? "1 existing tenant" : n + " existing tenants";
            for (String pattern : List.of("spaced", "burst")) {
                String how = "spaced".equals(pattern) ? spaced + " creations, " + spacing
                        : burst + " creations back to back";
                add("tenant creation, spares on vs off, " + at + ", " + how + " (p50 ÷ p50; goal: spares-on p50 < 25 ms)",
                        "on/" + level + "/" + pattern, "off/" + level + "/" + pattern, "N".equals(level) ? fillerNote : "");
            }
        }
        for (String setting : List.of("on", "off")) {
            for (String pattern : List.of("spaced", "burst")) {
                add("tenant creation, spares " + setting + ", " + pattern + ": " + n + " vs 1 existing tenant (p50 ÷ p50)",
                        setting + "/N/" + pattern, setting + "/1/" + pattern, "");
            }
        }
    }

    private void add(String name, String siloKey, String referenceKey, String extraNote) {
        Phase silo = phases.get(siloKey);
        Phase reference = phases.get(referenceKey);
        String ratio = silo != null && reference != null
                ? String.format(Locale.ROOT, "%.2f", silo.p50() / reference.p50()) : "—";
        List<String> notes = new ArrayList<>();
        if (silo != null) {
            boolean spares = siloKey.startsWith("on/");
            notes.add("Silo: " + (spares ? "goal p50 < 25 ms " + (silo.p50() / 1e6 < GOAL_MILLIS ? "met" : "not met") + "; " : "")
                    + "sequential `POST /admin/tenants` until active; " + silo.cpu());
        }
        if (reference != null) {
            notes.add("reference: " + reference.cpu());
        }
        if (!extraNote.isEmpty()) {
            notes.add(extraNote);
        }
        harness.add(new Row("13", name, silo == null ? "ERROR (see Errors)" : silo.cell(),
                reference == null ? "ERROR (see Errors)" : reference.cell(), ratio, String.join("; ", notes)));
    }
}

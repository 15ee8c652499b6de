package bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

final class SiloRows {
    static Measured trivialRoute(Api api, Options options) throws Exception {
        byte[] request = Load.get(api.base(), "/health/live", null);
        Load.Result result = Load.run(api.base(), options.connections(), options.warmup(), options.measure(),
                (worker, i) -> request);
        return result.measured("`GET /health/live`", "req/s", options.connections() + " connections");
    }

    static Measured login(Api api, Features features, Options options, int threads) throws Exception {
        BenchTenant tenant = features.tenant();
        byte[] request = Load.post(api.base(), "/t/" + tenant.slug() + "/auth/login",
                Bench.JSON.writeValueAsString(Map.of("email", tenant.email(), "password", Bench.PASSWORD)), null);
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
                requests.add(Load.get(api.base(), Features.recordPath(tenant.slug(), id), tenant.token()));
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
        byte[] request = Load.post(api.base(), "/t/" + tenant.slug() + "/collections/" + Bench.COLLECTION + "/records",
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
                throw new Fatal("POST /admin/tenants (" + slug + ") answered " + reply.status() + ": " + Format.abbreviate(reply.body()));
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

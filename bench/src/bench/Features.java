package bench;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

final class Features {
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
            throw new Fatal("POST /admin/tenants answered " + created.status() + ": " + Format.abbreviate(created.body()));
        }
        awaitActive(slug, created);
        probed.add(Feature.TENANTS);
        progress.accept("tenants: available (created " + slug + ")");

        // TENANT_ADMINS
        String email = "admin@" + slug + ".bench.example";
        Reply admin = api.call("POST", "/admin/tenants/" + slug + "/admins", Map.of("email", email, "password", Bench.PASSWORD),
                operatorKey);
        if (admin.routeMissing()) {
            markMissingFrom(Feature.TENANT_ADMINS, "POST /admin/tenants/{slug}/admins answers " + admin.status());
            tenant = new BenchTenant(slug, email, null, List.of());
            return;
        }
        if (!admin.success()) {
            throw new Fatal("POST /admin/tenants/" + slug + "/admins answered " + admin.status() + ": " + Format.abbreviate(admin.body()));
        }
        probed.add(Feature.TENANT_ADMINS);

        // LOGIN
        Reply login = api.call("POST", "/t/" + slug + "/auth/login", Map.of("email", email, "password", Bench.PASSWORD), null);
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
            throw new Fatal("GET /t/" + slug + "/me answered " + me.status() + ": " + Format.abbreviate(me.body()));
        } else {
            probed.add(Feature.ME);
        }

        // RECORDS
        Reply collection = api.call("PUT", "/t/" + slug + "/collections/" + Bench.COLLECTION, Map.of(), token);
        if (collection.routeMissing()) {
            missing.put(Feature.RECORDS, "PUT /t/{slug}/collections/{c} answers " + collection.status());
            return;
        }
        if (!collection.success()) {
            throw new Fatal("PUT /t/" + slug + "/collections/" + Bench.COLLECTION + " answered " + collection.status() + ": "
                    + Format.abbreviate(collection.body()));
        }
        tenant = tenant.withRecords(seedRecords(tenant, options.quick() ? 20 : 100));
        Reply read = api.call("GET", recordPath(slug, tenant.recordIds().get(0)), null, token);
        if (read.status() != 200) {
            throw new Fatal("GET " + recordPath(slug, tenant.recordIds().get(0)) + " answered " + read.status() + ": "
                    + Format.abbreviate(read.body()));
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
            throw new Fatal("POST /admin/tenants (" + slug + ") answered " + created.status() + ": " + Format.abbreviate(created.body()));
        }
        awaitActive(slug, created);
    }

    BenchTenant createTenant(String slug, int records) {
        Reply created = api.call("POST", "/admin/tenants", Map.of("slug", slug, "name", "Bench tenant " + slug), operatorKey);
        if (!created.success()) {
            throw new Fatal("POST /admin/tenants (" + slug + ") answered " + created.status() + ": " + Format.abbreviate(created.body()));
        }
        awaitActive(slug, created);
        return prepareTenant(slug, records);
    }

    BenchTenant prepareTenant(String slug, int records) {
        String email = "admin@" + slug + ".bench.example";
        api.expect("POST", "/admin/tenants/" + slug + "/admins", Map.of("email", email, "password", Bench.PASSWORD), operatorKey);
        String token = login(slug, email);
        BenchTenant prepared = new BenchTenant(slug, email, token, List.of());
        if (records > 0) {
            api.expect("PUT", "/t/" + slug + "/collections/" + Bench.COLLECTION, Map.of(), token);
            prepared = prepared.withRecords(seedRecords(prepared, records));
        }
        return prepared;
    }

    String login(String slug, String email) {
        return accessToken(api.call("POST", "/t/" + slug + "/auth/login", Map.of("email", email, "password", Bench.PASSWORD), null), slug);
    }

    private List<String> seedRecords(BenchTenant tenant, int count) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            JsonNode record = api.expect("POST", "/t/" + tenant.slug() + "/collections/" + Bench.COLLECTION + "/records",
                    Map.of("title", "bench record " + i, "n", i), tenant.token());
            JsonNode id = record.get("id");
            if (id == null || !id.isTextual()) {
                throw new Fatal("POST .../records answered without a string \"id\": " + Format.abbreviate(record.toString()));
            }
            ids.add(id.asText());
        }
        return ids;
    }

    private static String accessToken(Reply login, String slug) {
        if (login.status() != 200) {
            throw new Fatal("POST /t/" + slug + "/auth/login answered " + login.status() + ": " + Format.abbreviate(login.body()));
        }
        JsonNode token = login.json().get("access_token");
        if (token == null || !token.isTextual()) {
            throw new Fatal("POST /t/" + slug + "/auth/login answered 200 without an access_token");
        }
        return token.asText();
    }

    /** Provisioning may be asynchronous (202 / status "provisioning"): wait until the tenant is active. */
    void awaitActive(String slug, Reply created) {
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

    static String recordPath(String slug, String id) {
        return "/t/" + slug + "/collections/" + Bench.COLLECTION + "/records/" + id;
    }
}

package bench;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Row 8 (issue 13.1): the time of a one-tenant point-in-time restore (in place, through the operator API, to the
 * job's success) and the bytes it reads from the store, once with few tenants on the server (before the other
 * rows) and once with many (after row 5 has provisioned its tenants): the goal is equal within noise, because the
 * restore reads only the tenant's own files. Each measurement takes a fresh base backup first.
 */
final class TenantRestoreRows {
    private final Api api;
    private final Features features;
    private final Options options;
    private final java.util.function.Consumer<String> progress;
    private final Map<String, JsonNode> results = new LinkedHashMap<>();
    private final Map<String, Double> seconds = new LinkedHashMap<>();
    private final Map<String, Integer> tenantCounts = new LinkedHashMap<>();
    private final List<String> errors = new ArrayList<>();
    private String slug;

    TenantRestoreRows(Api api, Features features, Options options, java.util.function.Consumer<String> progress) {
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
            // The levels: at least 10 tenants, then at least 300 (quick: 20); row 5 may have made more.
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
                throw new Fatal("POST /admin/backups answered " + taken.status() + ": " + Format.abbreviate(taken.body()));
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
        api.expect("POST", "/admin/tenants/" + slug + "/admins", Map.of("email", "restore@bench.example", "password", Bench.PASSWORD), key);
        String token = api.expect("POST", "/t/" + slug + "/auth/login", Map.of("email", "restore@bench.example",
                "password", Bench.PASSWORD), null).path("access_token").asText();
        api.expect("PUT", "/t/" + slug + "/collections/" + Bench.COLLECTION, Map.of(), token);
        int records = options.quick() ? 200 : 90_000; // full: ~100 MB, the size the issue sets a goal for
        String padding = "x".repeat(1000);
        AtomicInteger next = new AtomicInteger();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> writers = new ArrayList<>();
            for (int w = 0; w < 16; w++) {
                writers.add(pool.submit(() -> {
                    for (int n = next.getAndIncrement(); n < records; n = next.getAndIncrement()) {
                        api.expect("POST", "/t/" + slug + "/collections/" + Bench.COLLECTION + "/records",
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

package bench;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;

/**
 * Row 9 (issue 15, goal 1): latency at one connection by response size, so a stall (a response of a few KiB
 * waiting ~40 ms for the client's delayed ACK while the server's socket has Nagle on) cannot hide. One record read
 * by id of about 1 KB, 8 KB and 64 KB, and the export of a tenant holding one export fetch batch of records (256
 * of ~2 KB: ~512 KB, streamed); each against the 1 KB read (and that one against {@code GET /health/live}),
 * p50 ÷ p50. Then a listing of 50 small records against reading one of them by id (goal: ≤ 2).
 */
final class LatencyRows {
    /** RecordService's FETCH_SIZE: an export reads and writes records in batches of this many. */
    static final int EXPORT_BATCH = 256;
    private static final String SMALL = "small";
    private static final String[] SIZE_NAMES = {"~1 KB", "~8 KB", "~64 KB"};
    private static final int[] SIZES = {1024, 8 * 1024, 64 * 1024};

    private final Harness harness;
    private final Options options;

    LatencyRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    /** What the row reads: a tenant with the sized records and 50 small ones, and a tenant to export. */
    private record Prepared(BenchTenant sizes, List<String> sizedIds, List<String> smallIds, BenchTenant export) {}

    void measure(Api api, Features features) {
        Optional<Measured> unavailable = harness.unavailable(features,
                List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.RECORDS));
        if (unavailable.isPresent()) {
            harness.add(harness.row("9", "latency at 1 connection by response size", unavailable.get(), unavailable.get()));
            return;
        }
        Prepared[] prepared = new Prepared[1];
        // attempt answers null when the setup succeeded, the error (already recorded) when it did not
        Measured setup = harness.attempt("row 9 setup: records of ~1, 8 and 64 KB, 50 small ones, a tenant to export", () -> {
            prepared[0] = prepare(api, features);
            return null;
        });
        if (setup != null) {
            harness.add(harness.row("9", "latency at 1 connection by response size", setup, setup));
            return;
        }
        BenchTenant sizes = prepared[0].sizes();
        String sized = "/t/" + sizes.slug() + "/collections/" + Bench.COLLECTION + "/records/";
        Measured live = harness.attempt("GET /health/live, 1 connection", () -> oneConnection(api, "/health/live", null));
        List<Measured> reads = new ArrayList<>();
        for (int i = 0; i < SIZES.length; i++) {
            String path = sized + prepared[0].sizedIds().get(i);
            reads.add(harness.attempt("record read of " + SIZE_NAMES[i] + ", 1 connection",
                    () -> oneConnection(api, path, sizes.token())));
        }
        BenchTenant exported = prepared[0].export();
        Measured export = harness.attempt("export of " + EXPORT_BATCH + " records, 1 connection",
                () -> oneConnection(api, "/t/" + exported.slug() + "/export", exported.token()));

        harness.add(ratioRow("record read by id, " + SIZE_NAMES[0] + " response, vs `GET /health/live`", "", reads.get(0), live));
        for (int i = 1; i < SIZES.length; i++) {
            harness.add(ratioRow("record read by id, " + SIZE_NAMES[i] + " response, vs the ~1 KB read", "", reads.get(i), reads.get(0)));
        }
        harness.add(ratioRow("`GET /t/{tenant}/export` of one fetch batch (" + EXPORT_BATCH + " records of ~2 KB, ~512 KB "
                + "streamed) vs the ~1 KB read", "", export, reads.get(0)));

        String small = "/t/" + sizes.slug() + "/collections/" + SMALL + "/records";
        Measured list = harness.attempt("list 50 records, 1 connection",
                () -> oneConnection(api, small + "?limit=50", sizes.token()));
        Measured read = harness.attempt("read one of the 50 by id, 1 connection",
                () -> oneConnection(api, small + "/" + prepared[0].smallIds().get(0), sizes.token()));
        harness.add(ratioRow("list 50 records (`?limit=50`) vs read one of them by id, 1 connection", ", goal ≤ 2", list, read));
    }

    private Prepared prepare(Api api, Features features) {
        BenchTenant sizes = features.createTenant(features.nextSlug(), 0);
        api.expect("PUT", "/t/" + sizes.slug() + "/collections/" + Bench.COLLECTION, Map.of(), sizes.token());
        List<String> sizedIds = new ArrayList<>();
        for (int bytes : SIZES) {
            // The record's own fields (id, version, times, ...) take ~200 bytes of the response.
            sizedIds.add(api.expect("POST", "/t/" + sizes.slug() + "/collections/" + Bench.COLLECTION + "/records",
                    Map.of("title", "bench record", "padding", "x".repeat(bytes - 200)), sizes.token()).path("id").asText());
        }
        api.expect("PUT", "/t/" + sizes.slug() + "/collections/" + SMALL, Map.of(), sizes.token());
        List<String> smallIds = SiloRows.parallel(IntStream.range(0, 50).boxed().toList(), i -> api.expect("POST",
                "/t/" + sizes.slug() + "/collections/" + SMALL + "/records", Map.of("title", "bench record " + i, "n", i),
                sizes.token()).path("id").asText());

        BenchTenant export = features.createTenant(features.nextSlug(), 0);
        api.expect("PUT", "/t/" + export.slug() + "/collections/" + Bench.COLLECTION, Map.of(), export.token());
        String padding = "x".repeat(1850); // an export line of ~2 KB
        SiloRows.parallel(IntStream.range(0, EXPORT_BATCH).boxed().toList(), i -> api.expect("POST",
                "/t/" + export.slug() + "/collections/" + Bench.COLLECTION + "/records",
                Map.of("title", "bench record " + i, "n", i, "padding", padding), export.token()));
        return new Prepared(sizes, sizedIds, smallIds, export);
    }

    /** Closed-loop GETs of {@code path} on one connection; the cell gives p50, p99 and the response's size. */
    private Measured oneConnection(Api api, String path, String token) throws Exception {
        Reply reply = api.call("GET", path, null, token);
        if (!reply.success()) {
            throw new Fatal("GET " + path + " answered " + reply.status() + ": " + Format.abbreviate(reply.body()));
        }
        int bytes = reply.body().getBytes(StandardCharsets.UTF_8).length;
        byte[] request = Load.get(api.base(), path, token);
        Load.Result result = Load.run(api.base(), 1, options.warmup(), options.measure(), (worker, i) -> request);
        Measured measured = result.measured("", "req/s", "1 connection");
        Latencies latencies = result.latencies();
        String cell = "p50 " + Format.millis(latencies.percentile(0.50)) + ", p99 " + Format.millis(latencies.percentile(0.99))
                + String.format(Locale.ROOT, " (%,d bytes, %s req/s)", bytes, Format.rate(measured.rate()));
        // rate = 1 / p50, as in Measured.latency, so the ratio of two of these compares their p50s
        return new Measured("", 1e9 / latencies.percentile(0.50), "1/p50", cell, measured.notes(), null, null);
    }

    /** The ratio of this row is Silo's p50 ÷ the reference's p50: above 1 is slower than the reference. */
    private Row ratioRow(String name, String goal, Measured silo, Measured reference) {
        Row row = harness.row("9", name + " (p50 ÷ p50" + goal + ")", silo, reference);
        String ratio = silo.ok() && reference.ok() ? String.format(Locale.ROOT, "%.2f", reference.rate() / silo.rate()) : "—";
        return new Row(row.id(), row.name(), row.silo(), row.raw(), ratio, row.notes());
    }
}

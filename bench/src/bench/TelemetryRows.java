package bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Row 15 (issue 16): what telemetry costs. {@code GET /t/{tenant}/me} on a Silo shipping its logs to one syslog
 * drain (a TCP collector in this harness that reads and counts every byte) while {@code /metrics} is scraped
 * every second, against a Silo with neither.
 *
 * <p>Both Silos run at the same time and are measured in alternating windows (off, on, on, off, off, on, ...), the
 * rate being the requests of all of a side's windows over their seconds: measured one after the other, a
 * difference of a few per cent drowns in what the rest of a shared 2-core machine does meanwhile (quick CI runs
 * gave 0.70 and 1.12 for the same code). The notes add Silo's own CPU per request on each side, the figure the
 * drain and the scrapes actually cost.
 */
final class TelemetryRows {
    private static final int WINDOWS_PER_SIDE = 4;

    private final Harness harness;
    private final Options options;

    TelemetryRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure() throws IOException {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.ME);
        Measured[] on = {Measured.error("not measured")};
        Measured[] off = {Measured.error("not measured")};
        try (Collector collector = new Collector()) {
            String drain = "syslog://127.0.0.1:" + collector.port();
            Measured outcome = harness.onOtherSilo("telemetry-off", Map.of(), "no drain", (offSilo, offApi, offFeatures) ->
                    harness.onOtherSilo("telemetry-on", Map.of("SILO_LOG_DRAINS", drain), "SILO_LOG_DRAINS=" + drain,
                            (onSilo, onApi, onFeatures) -> {
                                Optional<Measured> missing = harness.unavailable(offFeatures, needs)
                                        .or(() -> harness.unavailable(onFeatures, needs));
                                if (missing.isPresent()) {
                                    on[0] = off[0] = missing.get();
                                    return missing.get();
                                }
                                return harness.attempt("GET /t/{tenant}/me in " + 2 * WINDOWS_PER_SIDE
                                        + " alternating windows: no drain / one syslog drain and /metrics scraped", () -> {
                                try (Scraper scraper = new Scraper(onApi.base(), onFeatures.operatorKey())) {
                                    Side offSide = new Side(offSilo, offApi, offFeatures);
                                    Side onSide = new Side(onSilo, onApi, onFeatures);
                                    offSide.window(options.warmup(), false);
                                    onSide.window(options.warmup(), false);
                                    for (int w = 0; w < WINDOWS_PER_SIDE; w++) {
                                        // off, on, on, off, ...: neither side always goes first
                                        Side first = w % 2 == 0 ? offSide : onSide;
                                        first.window(windowLength(), true);
                                        (first == offSide ? onSide : offSide).window(windowLength(), true);
                                    }
                                    off[0] = offSide.measured();
                                    on[0] = onSide.measured();
                                    String notes = on[0].notes() + "; the drain received "
                                            + Format.rate(collector.bytes() / 1e6) + " MB; " + scraper.summary()
                                            + "; Silo CPU per request on ÷ off: "
                                            + String.format(Locale.ROOT, "%.2f", onSide.cpuPerRequest() / offSide.cpuPerRequest());
                                    on[0] = new Measured(on[0].label(), on[0].rate(), on[0].unit(), on[0].cell(), notes,
                                            null, null);
                                    return on[0];
                                }
                                });
                            }));
            if (!outcome.ok()) { // a Silo did not start, the features are missing, or the windows failed
                on[0] = outcome;
                off[0] = off[0].ok() ? off[0] : outcome;
            }
        }
        harness.add(harness.row("15", "telemetry: `GET /t/{tenant}/me` with one syslog drain and `/metrics` scraped "
                + "every second vs neither, alternating windows (goal ≥ 0.95)", on[0], off[0]));
    }

    /** One measured window: the phase length split over the windows, at least a second. */
    private Duration windowLength() {
        return Duration.ofMillis(Math.max(1000, options.measure().toMillis() * 2 / WINDOWS_PER_SIDE));
    }

    /** One Silo of the row: its windows' requests, seconds, latencies and CPU added up. */
    private final class Side {
        private final SiloProcess process;
        private final Api api;
        private final Features features;
        private final List<long[]> latencies = new ArrayList<>();
        private long requests;
        private double seconds;
        private long siloCpuNanos;
        private long shed;

        Side(SiloProcess process, Api api, Features features) {
            this.process = process;
            this.api = api;
            this.features = features;
        }

        void window(Duration length, boolean counted) throws Exception {
            BenchTenant tenant = features.tenant();
            String token = features.login(tenant.slug(), tenant.email());
            byte[] request = Load.get(api.base(), "/t/" + tenant.slug() + "/me", token);
            Cpu.init(process);
            Cpu before = Cpu.now();
            // A warm-up window is all warm-up (a cold JVM may complete nothing in its first second); a counted one
            // starts on warm connections a moment after they open.
            Load.Result result = counted
                    ? Load.run(api.base(), options.connections(), Duration.ofMillis(200), length, (worker, i) -> request)
                    : Load.run(api.base(), options.connections(), length, Duration.ofMillis(200), (worker, i) -> request);
            Cpu after = Cpu.now();
            if (result.errors() > 0 || counted) {
                result.measured("", "req/s", options.connections() + " connections"); // fails the row on errors
            }
            if (counted) {
                requests += result.requests();
                seconds += result.seconds();
                shed += result.shed();
                siloCpuNanos += after.siloNanos() - before.siloNanos();
                latencies.add(result.latencies().sorted());
            }
        }

        double cpuPerRequest() {
            return requests == 0 ? Double.NaN : siloCpuNanos / (double) requests;
        }

        Measured measured() {
            long[] all = latencies.stream().flatMapToLong(java.util.Arrays::stream).toArray();
            Latencies merged = Latencies.of(all, all.length);
            String notes = options.connections() + " connections, " + WINDOWS_PER_SIDE + " windows of "
                    + windowLength().toMillis() / 1000.0 + " s; Silo CPU " + Format.rate(cpuPerRequest() / 1000) + " µs per request"
                    + (shed == 0 ? "" : "; " + shed + " answered 503 busy, not counted");
            return Measured.throughput("", requests / seconds, "req/s", merged, notes);
        }
    }

    /** A syslog collector on 127.0.0.1 that reads everything it is sent and counts the bytes. */
    private static final class Collector implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final AtomicLong bytes = new AtomicLong();

        Collector() throws IOException {
            Thread.ofPlatform().daemon().name("bench-syslog-collector").start(this::accept);
        }

        int port() {
            return server.getLocalPort();
        }

        long bytes() {
            return bytes.get();
        }

        private void accept() {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    Thread.ofPlatform().daemon().name("bench-syslog-reader").start(() -> read(socket));
                } catch (IOException e) {
                    return; // closed
                }
            }
        }

        private void read(Socket socket) {
            byte[] buffer = new byte[64 * 1024];
            try (socket; InputStream in = socket.getInputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    bytes.addAndGet(n);
                }
            } catch (IOException e) {
                // the Silo stopped
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    /** Scrapes {@code /metrics} with the operator key once a second, as a Prometheus server would. */
    private static final class Scraper implements AutoCloseable {
        private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        private final Thread thread;
        private final AtomicLong scrapes = new AtomicLong();
        private final AtomicLong scrapedBytes = new AtomicLong();
        private volatile int lastStatus;
        private volatile boolean running = true;

        Scraper(URI base, String operatorKey) {
            HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve("/metrics")).timeout(Duration.ofSeconds(10));
            if (operatorKey != null) {
                builder.header("Authorization", "Bearer " + operatorKey);
            }
            HttpRequest request = builder.GET().build();
            thread = Thread.ofPlatform().daemon().name("bench-metrics-scraper").start(() -> {
                while (running) {
                    try {
                        HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
                        lastStatus = response.statusCode();
                        if (response.statusCode() == 200) {
                            scrapes.incrementAndGet();
                            scrapedBytes.addAndGet(response.body().length);
                        }
                        Thread.sleep(1000);
                    } catch (InterruptedException e) {
                        return;
                    } catch (IOException e) {
                        lastStatus = -1;
                    }
                }
            });
        }

        String summary() {
            long n = scrapes.get();
            return n == 0 ? "no /metrics scrape answered 200 (last status " + lastStatus + ")"
                    : n + " scrapes of /metrics, " + Format.rate(scrapedBytes.get() / (double) n / 1024) + " KiB each";
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.interrupt();
            thread.join(5000);
        }
    }
}

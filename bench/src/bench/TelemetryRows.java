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
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Row 15 (issue 16): what telemetry costs. {@code GET /t/{tenant}/me} on a Silo shipping its logs to one syslog
 * drain (a TCP collector in this harness that reads and counts every byte) while {@code /metrics} is scraped
 * every second, against a Silo with neither; both started for this row and warmed the same way, as row 7 does.
 */
final class TelemetryRows {
    private final Harness harness;
    private final Options options;

    TelemetryRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure() throws IOException {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.ME);
        Measured off = harness.onOtherSilo("telemetry-off", Map.of(), "no drain", (other, api, features) ->
                warmThenMe(api, features, "telemetry off", needs));
        try (Collector collector = new Collector()) {
            String drain = "syslog://127.0.0.1:" + collector.port();
            Measured on = harness.onOtherSilo("telemetry-on", Map.of("SILO_LOG_DRAINS", drain), "SILO_LOG_DRAINS=" + drain,
                    (other, api, features) -> {
                        try (Scraper scraper = new Scraper(api.base(), features.operatorKey())) {
                            Measured measured = warmThenMe(api, features, "one syslog drain, /metrics scraped every second", needs);
                            if (!measured.ok()) {
                                return measured;
                            }
                            String notes = (measured.notes() == null ? "" : measured.notes() + "; ")
                                    + "the drain received " + Format.rate(collector.bytes() / 1e6) + " MB; "
                                    + scraper.summary();
                            return new Measured(measured.label(), measured.rate(), measured.unit(), measured.cell(), notes,
                                    null, null);
                        }
                    });
            harness.add(harness.row("15", "telemetry: `GET /t/{tenant}/me` with one syslog drain and `/metrics` scraped "
                    + "every second vs neither (goal ≥ 0.95)", on, off));
        }
    }

    private Measured warmThenMe(Api api, Features features, String what, List<Feature> needs) throws Exception {
        if (needs.stream().allMatch(feature -> features.missing(feature).isEmpty() && !features.failed(feature))) {
            harness.attempt("warming the Silo (" + what + ")", () -> SiloRows.me(api, features, options));
        }
        return harness.siloRow("GET /t/{tenant}/me, " + what, features, needs, () -> SiloRows.me(api, features, options));
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

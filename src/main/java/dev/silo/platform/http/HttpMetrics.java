package dev.silo.platform.http;

import dev.silo.platform.metrics.Metrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import static java.util.Objects.requireNonNull;

/**
 * The HTTP edge's meters: every answer (the same ones the {@code api} log line records) as
 * {@code silo_http_server_requests_seconds} by route template, method and status, with histogram buckets so
 * p50 and p99 are computed by Prometheus across nodes; refusals (429 and 503 answers) by problem type; the
 * connection counters of the listener.
 *
 * <p>Per request this costs two map lookups and a short array scan on {@code Timer}s built once per
 * (route, method, status): no tags are built on the hot path. Cardinality is bounded: routes are the registered
 * templates or a fixed name ({@code (unmatched)} for any path no route has, {@code (malformed)} for what HTTP
 * parsing refused), methods outside the standard set are {@code other}, and statuses are three digits.
 */
public final class HttpMetrics {
    static final String REQUESTS = "silo.http.server.requests";
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");

    private final MeterRegistry registry;
    private final ConcurrentMap<String, RouteTimers> routes = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> refusals = new ConcurrentHashMap<>();

    public HttpMetrics(MeterRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    /** Meters that go nowhere (servers started without a node: tests of the HTTP layer). */
    public static HttpMetrics none() {
        return new HttpMetrics(Metrics.none());
    }

    /** The connection meters of {@code server}'s listener. */
    void bind(HttpServer server) {
        Gauge.builder("silo.http.connections.open", server, HttpServer::openConnections)
                .description("HTTP connections open now").strongReference(true).register(registry);
        FunctionCounter.builder("silo.http.connections.refused", server, HttpServer::refusedConnections)
                .description("HTTP connections closed at once because a connection limit was reached")
                .register(registry);
        FunctionCounter.builder("silo.http.head.timeouts", server, HttpServer::headTimeouts)
                .description("HTTP connections closed because the request head did not arrive in time").register(registry);
        FunctionCounter.builder("silo.http.client.disconnects", server, s -> HttpServer.clientDisconnects())
                .description("requests whose client closed the connection midway").register(registry);
    }

    /** One answer, as its {@code api} line records it. */
    void record(String route, String method, int status, long nanos) {
        RouteTimers timers = routes.get(route);
        if (timers == null) {
            timers = routes.computeIfAbsent(route, RouteTimers::new);
        }
        timers.timer(METHODS.contains(method) ? method : "other", status).record(nanos, TimeUnit.NANOSECONDS);
    }

    /** A 429 or 503 answer, by its problem type (a constant of the code: {@code rate-limited}, {@code login-busy}...). */
    void refused(String type) {
        Counter counter = refusals.get(type);
        if (counter == null) {
            counter = refusals.computeIfAbsent(type, name -> Counter.builder("silo.http.refusals").tag("type", name)
                    .description("answers 429 or 503 by problem type: rate limits, login throttle, busy pools, shutting down")
                    .register(registry));
        }
        counter.increment();
    }

    /** The timers of one route: few (method, status) pairs each, so a copy-on-write array scanned in order. */
    private final class RouteTimers {
        private record Entry(String method, int status, Timer timer) {}

        private final String route;
        private final ReentrantLock lock = new ReentrantLock();
        private volatile Entry[] entries = new Entry[0];

        RouteTimers(String route) {
            this.route = route;
        }

        Timer timer(String method, int status) {
            for (Entry entry : entries) {
                if (entry.status() == status && entry.method().equals(method)) {
                    return entry.timer();
                }
            }
            lock.lock();
            try {
                for (Entry entry : entries) {
                    if (entry.status() == status && entry.method().equals(method)) {
                        return entry.timer();
                    }
                }
                Timer timer = Timer.builder(REQUESTS)
                        .description("HTTP requests answered, by route template, method and status")
                        .tags("route", route, "method", method, "status", Integer.toString(status))
                        .publishPercentileHistogram()
                        .minimumExpectedValue(Duration.ofMillis(1))
                        .maximumExpectedValue(Duration.ofSeconds(30))
                        .register(registry);
                Entry[] grown = java.util.Arrays.copyOf(entries, entries.length + 1);
                grown[grown.length - 1] = new Entry(method, status, timer);
                entries = grown;
                return timer;
            } finally {
                lock.unlock();
            }
        }
    }
}

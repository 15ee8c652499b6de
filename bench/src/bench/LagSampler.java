package bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** Samples {@code wal.lag_seconds} and {@code wal.synchronous} from {@code GET /admin/backups}. */
final class LagSampler {
    private volatile Api api;
    private volatile String operatorKey;
    private final List<Double> samples = java.util.Collections.synchronizedList(new ArrayList<>());
    private final java.util.Set<String> modes = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile String error;

    LagSampler(Api api, String operatorKey) {
        this.api = api;
        this.operatorKey = operatorKey;
    }

    void attach(Api api, String operatorKey) {
        this.api = api;
        this.operatorKey = operatorKey;
    }

    void awaitSynchronous() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && !"on".equals(wal().path("synchronous").asText())) {
            Thread.sleep(200);
        }
    }

    private com.fasterxml.jackson.databind.JsonNode wal() {
        try {
            Reply reply = api.call("GET", "/admin/backups", null, operatorKey);
            if (!reply.success()) {
                error = "GET /admin/backups answered " + reply.status();
                return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
            }
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(reply.body()).path("wal");
        } catch (Exception e) {
            error = String.valueOf(e.getMessage());
            return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
        }
    }

    Measured during(Callable<Measured> load) throws Exception {
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        Thread sampler = Thread.ofPlatform().daemon().name("bench-wal-lag").start(() -> {
            while (!done.get()) {
                var wal = wal();
                if (wal.path("lag_seconds").isNumber()) {
                    samples.add(wal.path("lag_seconds").asDouble());
                }
                if (wal.path("synchronous").isTextual()) {
                    modes.add(wal.path("synchronous").asText());
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try {
            return load.call();
        } finally {
            done.set(true);
            sampler.join(5000);
        }
    }

    String cell() {
        List<Double> sorted;
        synchronized (samples) {
            sorted = new ArrayList<>(samples);
        }
        if (sorted.isEmpty()) {
            return "no sample" + (error == null ? "" : " (" + error + ")");
        }
        java.util.Collections.sort(sorted);
        double p50 = sorted.get((int) Math.floor(0.50 * (sorted.size() - 1)));
        double p99 = sorted.get((int) Math.floor(0.99 * (sorted.size() - 1)));
        return String.format(Locale.ROOT, "p50 %.1f s, p99 %.1f s", p50, p99);
    }

    String notes() {
        return samples.size() + " samples of `wal.lag_seconds` (the receiver measures it every second; 0 = the store "
                + "holds all the server flushed at its last measurement); synchronous mode seen: " + modes;
    }
}

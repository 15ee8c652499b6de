package dev.silo.platform.problem;

import java.time.Duration;
import java.util.Map;

/** A 503 with {@code Retry-After}: the request may succeed later. */
public final class Unavailable extends Problem {
    private final long retryAfterSeconds;

    public Unavailable(String type, String detail, Duration retryAfter) {
        super(503, type, "Service unavailable", detail, Map.of());
        this.retryAfterSeconds = Math.max(1, (retryAfter.toMillis() + 999) / 1000);
    }

    @Override
    public Map<String, String> headers() {
        return Map.of("Retry-After", Long.toString(retryAfterSeconds));
    }
}

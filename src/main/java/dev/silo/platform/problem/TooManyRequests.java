package dev.silo.platform.problem;

import java.time.Duration;
import java.util.Map;

/** A 429 with {@code Retry-After} in whole seconds, rounded up (RFC 9110 section 10.2.3). */
public final class TooManyRequests extends Problem {
    private final long retryAfterSeconds;

    public TooManyRequests(String type, String detail, Duration retryAfter) {
        super(429, type, "Too many requests", detail, Map.of());
        this.retryAfterSeconds = Math.max(1, (retryAfter.toMillis() + 999) / 1000);
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    @Override
    public Map<String, String> headers() {
        return Map.of("Retry-After", Long.toString(retryAfterSeconds));
    }
}

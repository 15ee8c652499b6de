package dev.silo.platform.problem;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** A 429 with {@code Retry-After} in whole seconds, rounded up (RFC 9110 section 10.2.3). */
public final class TooManyRequests extends Problem {
    private final long retryAfterSeconds;
    private final Map<String, String> headers;

    public TooManyRequests(String type, String detail, Duration retryAfter) {
        this(type, detail, retryAfter, Map.of(), Map.of());
    }

    /** With more response headers (the rate-limit fields) and extension members. */
    public TooManyRequests(String type, String detail, Duration retryAfter, Map<String, String> headers,
                           Map<String, Object> extensions) {
        super(429, type, "Too many requests", detail, extensions);
        this.retryAfterSeconds = Math.max(1, (retryAfter.toMillis() + 999) / 1000);
        Map<String, String> all = new HashMap<>(headers);
        all.put("Retry-After", Long.toString(retryAfterSeconds));
        this.headers = Map.copyOf(all);
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    @Override
    public Map<String, String> headers() {
        return headers;
    }
}

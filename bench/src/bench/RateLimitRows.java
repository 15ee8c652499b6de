package bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Row 7 (issue 14): what the rate limiter costs, in memory and in Redis. */
final class RateLimitRows {
    /** Every rate limit on, each far above what the load generator can send: checked on every request, never refusing. */
    static final List<String> RATE_LIMIT_SETTINGS = List.of("SILO_RATE_LIMIT_IP", "SILO_RATE_LIMIT_TENANT",
            "SILO_RATE_LIMIT_USER_WRITE", "SILO_RATE_LIMIT_AUTH", "SILO_RATE_LIMIT_ADMIN");

    static final Map<String, String> HIGH_RATE_LIMITS = RATE_LIMIT_SETTINGS.stream()
            .collect(java.util.stream.Collectors.toUnmodifiableMap(name -> name, name -> "10000000/s,10000000"));
    static final String BENCH_REDIS = "redis://127.0.0.1:6379";

    private final Harness harness;
    private final Options options;

    RateLimitRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    /**
     * Row 7 (issue 14): what the rate limiter costs. {@code GET /t/{tenant}/me} (an IP and a tenant bucket per
     * request) on a Silo with every limit on but never reached, against one with them off, each started for this
     * row, one at a time, and warmed with an unmeasured pass; then the same with the buckets in Redis
     * ({@code SILO_REDIS_URL}, one round trip per bucket) against in memory. Skipped with a note when no Redis
     * answers on 127.0.0.1:6379.
     */
    void measure(Api api, Features features) {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.ME);
        // Both sides on a Silo started for this row and warmed the same way: against the run's long-warm Silo a
        // fresh JVM would lose to its JIT, not to the limiter.
        Measured off = otherSiloMe("nolimits", Map.of(), needs);
        Measured memory = otherSiloMe("limits", HIGH_RATE_LIMITS, needs);
        harness.add(harness.row("7", "rate limits: `GET /t/{tenant}/me` with every limit on (never reached) vs off (goal ≥ 0.95)",
                memory, off));
        // The end-to-end ratio above moves by ±20 % with the machine's other load; the limiter's own cost per request
        // does not, and next to what a /me request costs it says what the ratio should be.
        Measured alone = harness.attempt("raw rate limiter, 1 thread", () -> Raw.rateLimiter(options));
        harness.add(new Row("7", "rate limiter alone: the ip and tenant bucket checks of one request, in memory, 1 thread",
                alone.cell(), "—", "—", alone.ok() ? alone.notes() : ""));
        Optional<String> redisDown = Machine.redisUnreachable("127.0.0.1", 6379);
        if (redisDown.isPresent()) {
            harness.add(new Row("7", "rate limits: `GET /t/{tenant}/me`, buckets in Redis vs in memory", "skipped", "—", "—",
                    "no Redis at 127.0.0.1:6379 (" + redisDown.get() + ")"));
            return;
        }
        Map<String, String> shared = new LinkedHashMap<>(HIGH_RATE_LIMITS);
        shared.put("SILO_REDIS_URL", BENCH_REDIS);
        Measured redis = otherSiloMe("redis", shared, needs);
        harness.add(harness.row("7", "rate limits: `GET /t/{tenant}/me`, buckets in Redis (`SILO_REDIS_URL`, machine Redis) vs in memory",
                redis, memory));
    }

    /** Starts another Silo with {@code env}, warms it with one unmeasured pass of {@code /me}, measures it, stops it. */
    private Measured otherSiloMe(String name, Map<String, String> env, List<Feature> needs) {
        return harness.onOtherSilo(name, env, env.keySet().toString(), (other, otherApi, otherFeatures) -> {
            if (needs.stream().allMatch(feature -> otherFeatures.missing(feature).isEmpty() && !otherFeatures.failed(feature))) {
                harness.attempt("warming the Silo " + name, () -> SiloRows.me(otherApi, otherFeatures, options));
            }
            return harness.siloRow("GET /t/{tenant}/me, " + name, otherFeatures, needs, () -> SiloRows.me(otherApi, otherFeatures, options));
        });
    }
}

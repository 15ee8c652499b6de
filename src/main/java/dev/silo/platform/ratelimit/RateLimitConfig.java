package dev.silo.platform.ratelimit;

import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The rate limits of a node (README "Rate limits"); each empty when set to {@code off}.
 *
 * @param ip        every route, per client address ({@code SILO_RATE_LIMIT_IP}, {@code 50/s,100})
 * @param tenant    every {@code /t/{tenant}/...} route, per tenant across all its users and addresses
 *                  ({@code SILO_RATE_LIMIT_TENANT}, {@code 200/s,400}); an operator may set another per tenant
 * @param userWrite write routes (POST, PUT, PATCH, DELETE) of a tenant, per authenticated user
 *                  ({@code SILO_RATE_LIMIT_USER_WRITE}, {@code 20/s,40})
 * @param auth      the unauthenticated routes (login, refresh, password reset), per client address
 *                  ({@code SILO_RATE_LIMIT_AUTH}, {@code 5/s,20})
 * @param admin     the operator API ({@code /admin/...}), per client address ({@code SILO_RATE_LIMIT_ADMIN},
 *                  {@code 20/s,40})
 * @param redisUrl  {@code SILO_REDIS_URL}: buckets and login throttle shared by every node through this Redis
 */
public record RateLimitConfig(Optional<RateLimit> ip, Optional<RateLimit> tenant, Optional<RateLimit> userWrite,
                              Optional<RateLimit> auth, Optional<RateLimit> admin, Optional<String> redisUrl) {
    public RateLimitConfig {
        requireNonNull(ip, "ip is null");
        requireNonNull(tenant, "tenant is null");
        requireNonNull(userWrite, "userWrite is null");
        requireNonNull(auth, "auth is null");
        requireNonNull(admin, "admin is null");
        requireNonNull(redisUrl, "redisUrl is null");
    }

    /** A setting that does not parse, with its name. */
    public static final class Invalid extends RuntimeException {
        private final String setting;

        Invalid(String setting, String message) {
            super(message, null, false, false);
            this.setting = setting;
        }

        public String setting() {
            return setting;
        }
    }

    public static RateLimitConfig off() {
        return new RateLimitConfig(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty());
    }

    /** @throws Invalid naming the setting */
    public static RateLimitConfig from(Map<String, String> env) {
        String redis = env.get("SILO_REDIS_URL");
        Optional<String> redisUrl = redis == null || redis.isBlank() ? Optional.empty() : Optional.of(redis.strip());
        if (redisUrl.isPresent() && !(redisUrl.get().startsWith("redis://") || redisUrl.get().startsWith("rediss://"))) {
            throw new Invalid("SILO_REDIS_URL", "expected redis://[:password@]host:port[/db] or rediss://...");
        }
        return new RateLimitConfig(
                limit(env, "SILO_RATE_LIMIT_IP", "50/s,100"),
                limit(env, "SILO_RATE_LIMIT_TENANT", "200/s,400"),
                limit(env, "SILO_RATE_LIMIT_USER_WRITE", "20/s,40"),
                limit(env, "SILO_RATE_LIMIT_AUTH", "5/s,20"),
                limit(env, "SILO_RATE_LIMIT_ADMIN", "20/s,40"),
                redisUrl);
    }

    private static Optional<RateLimit> limit(Map<String, String> env, String name, String fallback) {
        String value = env.get(name);
        try {
            return RateLimit.parse(value == null || value.isBlank() ? fallback : value);
        } catch (IllegalArgumentException e) {
            throw new Invalid(name, e.getMessage());
        }
    }

    @Override
    public String toString() {
        // The Redis URL may hold a password: never printed.
        return "RateLimitConfig[ip=" + ip.map(RateLimit::spec).orElse("off") + ", tenant=" + tenant.map(RateLimit::spec).orElse("off")
                + ", userWrite=" + userWrite.map(RateLimit::spec).orElse("off") + ", auth=" + auth.map(RateLimit::spec).orElse("off")
                + ", admin=" + admin.map(RateLimit::spec).orElse("off") + ", redis=" + (redisUrl.isPresent() ? "set" : "none") + "]";
    }
}

package dev.silo.app;

import dev.silo.auth.Caller;
import dev.silo.platform.http.HttpServer;
import dev.silo.platform.problem.TooManyRequests;
import dev.silo.platform.ratelimit.RateLimit;
import dev.silo.platform.ratelimit.RateLimitConfig;
import dev.silo.platform.ratelimit.RateLimiter;
import dev.silo.tenant.TenantDirectory;
import io.helidon.http.Method;
import io.helidon.webserver.http.Filter;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The rate limits (claim C8, README "Rate limits"), checked in a filter right after the edge filter resolved the
 * client address and before routing: no body read, no JSON parsed, no database touched for a request that is
 * over a limit. Every request takes a token from its client address's bucket; then, by path, one of: the
 * operator API's bucket per address ({@code /admin/...} and {@code /metrics}), the unauthenticated routes' bucket per address
 * (login, refresh, password reset), or its tenant's bucket (every {@code /t/{tenant}/...} route, all users and
 * addresses together, the limit an operator set for the tenant or {@code SILO_RATE_LIMIT_TENANT}; read from the
 * tenant cache). Write routes also take a token from the user's bucket once the token is verified
 * ({@link #checkUserWrite}, called by the authentication path, before the handler reads the body): Silo does not
 * verify a JWT twice to key this earlier.
 *
 * <p>Past a limit: 429 {@code rate-limited} with {@code Retry-After} and the IETF draft's {@code RateLimit-Policy}
 * and {@code RateLimit} fields, which every other answer carries too.
 */
final class RateLimitFilter implements Filter {
    private static final Pattern TENANT_PATH = Pattern.compile("^/t/([^/]+)(/.*)?$");
    private static final Set<String> UNAUTHENTICATED = Set.of("/auth/login", "/auth/refresh", "/auth/password-reset",
            "/auth/forgot-password", "/auth/verify-email", "/auth/verify-email/resend", "/auth/accept-invitation");
    private static final Set<Method> WRITES = Set.of(Method.POST, Method.PUT, Method.PATCH, Method.DELETE);
    private static final List<String> POLICIES = List.of("ip", "admin", "auth", "tenant", "user");

    private final RateLimitConfig config;
    private final RateLimiter limiter;
    private final TenantDirectory directory;
    private final BiConsumer<ServerRequest, ServerResponse> beforeRefusal;
    private final Map<String, Counter> refusals;

    /**
     * @param beforeRefusal adds what a refusal needs from filters that run after this one (the CORS fields)
     * @param registry      where refusals are counted by policy ({@code silo_rate_limited_total})
     */
    RateLimitFilter(RateLimitConfig config, RateLimiter limiter, TenantDirectory directory,
                    BiConsumer<ServerRequest, ServerResponse> beforeRefusal, MeterRegistry registry) {
        requireNonNull(registry, "registry is null");
        Map<String, Counter> counters = new java.util.HashMap<>();
        for (String policy : POLICIES) {
            counters.put(policy, Counter.builder("silo.rate.limited").tag("policy", policy)
                    .description("requests refused 429 rate-limited, by the limit that refused them").register(registry));
        }
        this.refusals = Map.copyOf(counters);
        this.config = requireNonNull(config, "config is null");
        this.limiter = requireNonNull(limiter, "limiter is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.beforeRefusal = requireNonNull(beforeRefusal, "beforeRefusal is null");
    }

    private record Checked(String policy, RateLimit limit, RateLimiter.Outcome outcome) {}

    @Override
    public void filter(FilterChain chain, RoutingRequest request, RoutingResponse response) {
        String address = addressKey(HttpServer.clientAddress(request));
        String path = request.path().path();
        List<Checked> checked = new ArrayList<>(2);
        // In order, stopping at the first refusal: a request over its address's limit costs no tenant lookup.
        config.ip().ifPresent(limit -> take(checked, "ip", "ip:" + address, limit, request, response));
        // The metrics endpoint is an operator route too: a key guessed there costs the operator API's budget.
        if (path.startsWith("/admin/") || path.equals("/admin") || path.equals("/metrics")) {
            config.admin().ifPresent(limit -> take(checked, "admin", "admin:" + address, limit, request, response));
        } else {
            Matcher tenant = TENANT_PATH.matcher(path);
            if (tenant.matches()) {
                String rest = tenant.group(2) == null ? "" : tenant.group(2);
                if (UNAUTHENTICATED.contains(rest)) {
                    config.auth().ifPresent(limit -> take(checked, "auth", "auth:" + address, limit, request, response));
                }
                tenantLimit(tenant.group(1)).ifPresent(limit -> take(checked, "tenant", "tenant:" + tenant.group(1), limit, request, response));
            }
        }
        chain.proceed();
    }

    /** Takes a token, sets the rate-limit fields for every bucket taken from so far, and refuses when it was empty. */
    private void take(List<Checked> checked, String policy, String key, RateLimit limit, RoutingRequest request,
                      RoutingResponse response) {
        Checked taken = check(policy, key, limit);
        checked.add(taken);
        Map<String, String> headers = headers(checked);
        headers.forEach(response::header);
        if (!taken.outcome().allowed()) {
            beforeRefusal.accept(request, response);
            refusals.get(policy).increment();
            throw refused(taken, headers);
        }
    }

    /**
     * Takes a token from the caller's write bucket on a write route; called once the caller is authenticated,
     * before the handler reads the body.
     */
    void checkUserWrite(ServerRequest request, Caller caller) {
        if (config.userWrite().isEmpty() || !WRITES.contains(request.prologue().method())) {
            return;
        }
        RateLimit limit = config.userWrite().get();
        Checked checked = check("user", "user:" + caller.tenant().id() + ":" + caller.userId(), limit);
        if (!checked.outcome().allowed()) {
            refusals.get("user").increment();
            throw refused(checked, headers(List.of(checked)));
        }
    }

    /** The operator's override for the tenant, else the default; empty for a malformed slug (the route 404s). */
    private Optional<RateLimit> tenantLimit(String slug) {
        Optional<String> override;
        try {
            override = directory.rateLimit(slug);
        } catch (RuntimeException e) {
            // The catalog cannot be read: the route will answer that; the limit falls back to the default.
            override = Optional.empty();
        }
        if (override.isEmpty()) {
            return config.tenant();
        }
        try {
            return RateLimit.parse(override.get());
        } catch (IllegalArgumentException e) {
            return config.tenant(); // validated when set; an unreadable value never disables the limit
        }
    }

    private Checked check(String policy, String key, RateLimit limit) {
        return new Checked(policy, limit, limiter.tryConsume(key, limit));
    }

    private static TooManyRequests refused(Checked checked, Map<String, String> headers) {
        return new TooManyRequests("rate-limited", "rate limit '" + checked.policy() + "' (" + checked.limit().spec()
                + ") exceeded; retry after the time in Retry-After", max(checked.outcome().retryAfter(), Duration.ofSeconds(1)),
                headers, Map.of("policy", checked.policy(), "limit", checked.limit().spec()));
    }

    /**
     * {@code RateLimit-Policy: "ip";q=100;w=2} (quota = burst, window = seconds to refill it) and
     * {@code RateLimit: "ip";r=99;t=1} (remaining, seconds until full), one item per limit checked
     * (draft-ietf-httpapi-ratelimit-headers).
     */
    private static Map<String, String> headers(List<Checked> checked) {
        StringBuilder policy = new StringBuilder();
        StringBuilder state = new StringBuilder();
        for (Checked c : checked) {
            if (!policy.isEmpty()) {
                policy.append(", ");
                state.append(", ");
            }
            policy.append('"').append(c.policy()).append("\";q=").append(c.limit().capacity()).append(";w=").append(c.limit().windowSeconds());
            Duration until = c.outcome().allowed() ? c.outcome().reset() : c.outcome().retryAfter();
            state.append('"').append(c.policy()).append("\";r=").append(c.outcome().remaining()).append(";t=").append(seconds(until));
        }
        return Map.of("RateLimit-Policy", policy.toString(), "RateLimit", state.toString());
    }

    private static long seconds(Duration duration) {
        return Math.max(0, (duration.toMillis() + 999) / 1000);
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    /** The whole IPv4 address, or the /64 prefix of an IPv6 one (one host usually holds a whole /64). */
    static String addressKey(InetAddress client) {
        if (client instanceof Inet4Address) {
            return client.getHostAddress();
        }
        return HexFormat.of().formatHex(Arrays.copyOf(client.getAddress(), 8)) + "/64";
    }
}

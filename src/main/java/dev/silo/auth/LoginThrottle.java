package dev.silo.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.silo.platform.problem.TooManyRequests;
import dev.silo.platform.ratelimit.SharedRedis;
import io.lettuce.core.api.StatefulRedisConnection;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentMap;

import static java.util.Objects.requireNonNull;

/**
 * Brute-force protection for logins (claim C8): failed logins are counted per account, that is (tenant id,
 * e-mail), and per client address; a key with too many failures in the window is locked, each further lockout
 * of the same key twice as long as the one before, up to a cap.
 *
 * <p>The login flow is: {@link #check} <em>before</em> any bcrypt work, so a flood of bad logins against a
 * locked key costs a cache lookup and no CPU; then verify the password (or the dummy hash for an unknown
 * e-mail); then {@link #recordFailure} or {@link #recordSuccess}. Unknown e-mails must be recorded like known
 * ones: the lock then says nothing about whether an account exists.
 *
 * <p>Semantics, per key: the window starts at the first failure after a reset; the {@code n}th failure within it
 * locks the key for {@code baseLockout * 2^(k-1)} (capped at {@code maxLockout}), {@code k} being the number of
 * lockouts the key has had, and resets the count, so after the lock a key gets {@code n} fresh attempts. A
 * window that ends without reaching {@code n} resets the count. Hence at most {@code n-1} failures pass in any
 * window-long interval without a lock, twice that across a window boundary. A success clears the account key,
 * backoff included, but never the address key: otherwise one valid account would let an attacker reset his
 * address's count. A key not failing for {@code forgetAfter} is forgotten.
 *
 * <p>Addresses are counted across tenants (password spraying across tenants from one address is still one
 * attacker); IPv6 addresses by their /64 prefix, since one host usually holds a whole /64.
 *
 * <p>Why not Bucket4j: a token bucket refills continuously and expresses a rate, not "locked for T after n
 * failures, T doubling"; a small immutable state per key, replaced atomically with {@code compute}, is easier
 * to reason about and to test with a clock. State lives in two bounded Caffeine caches whose expiry follows the
 * injected {@link Clock}; correctness does not depend on that expiry, which only frees memory.
 *
 * <p>With {@code SILO_REDIS_URL} the state is in Redis and shared by every node ({@link SharedLoginState}); while
 * Redis does not answer, and without it, it is per node (with several nodes an attacker then gets the budget of
 * each). In memory it is lost on restart, and under a flood of more than {@code maxKeys} distinct keys the least useful entries are evicted.
 * Logins that passed {@link #check} concurrently before a lock are still verified (bounded by the
 * {@link HashingGate}). A lock also keeps the real owner out: that is the price of per-account locking, kept
 * short by the small base lockout.
 */
public final class LoginThrottle {
    /** Which key a lockout applies to. */
    public enum Scope {
        ACCOUNT,
        ADDRESS
    }

    /** A lockout caused by a failure, for the audit log. */
    public record Lockout(Scope scope, Duration duration, Instant until) {
        public Lockout {
            requireNonNull(scope, "scope is null");
            requireNonNull(duration, "duration is null");
            requireNonNull(until, "until is null");
        }
    }

    private record AccountKey(String tenantId, String email) {}

    private record State(int failures, Instant windowStart, int lockouts, Instant lockedUntil) {
        Duration remainingLock(Instant now) {
            return now.isBefore(lockedUntil) ? Duration.between(now, lockedUntil) : Duration.ZERO;
        }
    }

    private final LoginThrottleConfig config;
    private final Clock clock;
    private final Cache<AccountKey, State> accounts;
    private final Cache<String, State> addresses;
    private final Optional<SharedRedis> redis;

    public LoginThrottle(LoginThrottleConfig config, Clock clock) {
        this(config, clock, Optional.empty());
    }

    /**
     * With {@code redis}, the counters and lockouts live there and every node shares them (the same semantics,
     * applied atomically by a Lua script, {@link SharedLoginState}); while it does not answer, this node's memory
     * holds them as without Redis.
     */
    public LoginThrottle(LoginThrottleConfig config, Clock clock, Optional<SharedRedis> redis) {
        this.config = requireNonNull(config, "config is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.redis = requireNonNull(redis, "redis is null");
        this.accounts = newCache(config, clock);
        this.addresses = newCache(config, clock);
    }

    private static <K> Cache<K, State> newCache(LoginThrottleConfig config, Clock clock) {
        return Caffeine.newBuilder()
                .ticker(new ClockTicker(clock))
                .executor(Runnable::run) // maintenance on the calling thread: no hidden pool, deterministic tests
                .expireAfterWrite(config.forgetAfter())
                .maximumSize(config.maxKeys())
                .build();
    }

    /**
     * Lets a login attempt go on to bcrypt, or refuses it.
     *
     * @throws TooManyRequests {@code login-throttled} while the account or the address is locked, with
     *     {@code Retry-After} the longer remaining lock; the detail does not say which key is locked
     */
    public void check(String tenantId, String email, InetAddress client) {
        AccountKey account = accountKey(tenantId, email);
        String address = addressKey(client);
        Instant now = clock.instant();
        Optional<Duration> shared = shared(connection -> SharedLoginState.remainingLock(connection,
                SharedLoginState.accountKey(account.tenantId(), account.email()), SharedLoginState.addressKey(address), now));
        Duration wait = shared.orElseGet(() -> max(remainingLock(accounts.getIfPresent(account), now),
                remainingLock(addresses.getIfPresent(address), now)));
        if (wait.isPositive()) {
            throw new TooManyRequests("login-throttled",
                    "too many failed logins; retry after the time in Retry-After", wait);
        }
    }

    /**
     * Counts a failed login (wrong password, unknown e-mail, disabled user) against the account and the
     * address.
     *
     * @return the lockouts this failure started, empty when none: audit each one
     */
    public List<Lockout> recordFailure(String tenantId, String email, InetAddress client) {
        AccountKey account = accountKey(tenantId, email);
        String address = addressKey(client);
        Instant now = clock.instant();
        Optional<List<Lockout>> shared = shared(connection -> {
            List<Lockout> found = new ArrayList<>(2);
            SharedLoginState.fail(connection, SharedLoginState.accountKey(account.tenantId(), account.email()), now,
                    config.accountFailures(), config, Scope.ACCOUNT).ifPresent(found::add);
            SharedLoginState.fail(connection, SharedLoginState.addressKey(address), now, config.ipFailures(), config,
                    Scope.ADDRESS).ifPresent(found::add);
            return List.copyOf(found);
        });
        if (shared.isPresent()) {
            return shared.get();
        }
        List<Lockout> lockouts = new ArrayList<>(2);
        fail(accounts.asMap(), account, now, config.accountFailures(), Scope.ACCOUNT, lockouts);
        fail(addresses.asMap(), address, now, config.ipFailures(), Scope.ADDRESS, lockouts);
        return List.copyOf(lockouts);
    }

    /** Clears the account's failures, lock and backoff after a successful login; the address keeps its count. */
    public void recordSuccess(String tenantId, String email) {
        AccountKey account = accountKey(tenantId, email);
        accounts.invalidate(account);
        shared(connection -> {
            SharedLoginState.clear(connection, SharedLoginState.accountKey(account.tenantId(), account.email()));
            return true;
        });
    }

    /** Runs {@code work} on Redis when there is one and it answers; empty (use memory) otherwise. */
    private <T> Optional<T> shared(java.util.function.Function<StatefulRedisConnection<String, byte[]>, T> work) {
        if (redis.isEmpty()) {
            return Optional.empty();
        }
        Optional<StatefulRedisConnection<String, byte[]>> connection = redis.get().connection();
        if (connection.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(work.apply(connection.get()));
        } catch (RuntimeException e) {
            redis.get().failed(e);
            return Optional.empty();
        }
    }

    /** How many keys are remembered, after pending evictions: for tests of the memory bound. */
    long trackedKeys() {
        accounts.cleanUp();
        addresses.cleanUp();
        return accounts.estimatedSize() + addresses.estimatedSize();
    }

    private <K> void fail(ConcurrentMap<K, State> states, K key, Instant now, int threshold, Scope scope,
            List<Lockout> lockouts) {
        State[] before = new State[1];
        State after = states.compute(key, (k, old) -> {
            before[0] = old;
            return next(old, now, threshold);
        });
        int lockoutsBefore = before[0] == null ? 0 : before[0].lockouts();
        if (after.lockouts() > lockoutsBefore) {
            lockouts.add(new Lockout(scope, Duration.between(now, after.lockedUntil()), after.lockedUntil()));
        }
    }

    private State next(State old, Instant now, int threshold) {
        if (old == null) {
            old = new State(0, now, 0, Instant.EPOCH);
        }
        if (now.isBefore(old.lockedUntil())) {
            return old; // checked before a concurrent failure locked the key: the lock stands as it is
        }
        boolean windowOver = !now.isBefore(old.windowStart().plus(config.window()));
        int failures = old.failures() == 0 || windowOver ? 1 : old.failures() + 1;
        Instant windowStart = failures == 1 ? now : old.windowStart();
        if (failures < threshold) {
            return new State(failures, windowStart, old.lockouts(), old.lockedUntil());
        }
        int lockouts = old.lockouts() + 1;
        return new State(0, now, lockouts, now.plus(lockoutDuration(lockouts)));
    }

    /** {@code baseLockout * 2^(lockouts-1)}, capped at {@code maxLockout} without overflowing. */
    Duration lockoutDuration(int lockouts) {
        Duration duration = config.baseLockout();
        for (int i = 1; i < lockouts && duration.compareTo(config.maxLockout()) < 0; i++) {
            duration = duration.multipliedBy(2);
        }
        return duration.compareTo(config.maxLockout()) > 0 ? config.maxLockout() : duration;
    }

    private static Duration remainingLock(State state, Instant now) {
        return state == null ? Duration.ZERO : state.remainingLock(now);
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    private static AccountKey accountKey(String tenantId, String email) {
        requireNonNull(tenantId, "tenantId is null");
        requireNonNull(email, "email is null");
        return new AccountKey(tenantId, email.strip().toLowerCase(Locale.ROOT));
    }

    /** The whole IPv4 address, or the /64 prefix of an IPv6 one. */
    static String addressKey(InetAddress client) {
        requireNonNull(client, "client is null");
        byte[] bytes = client.getAddress();
        if (client instanceof Inet4Address) {
            return client.getHostAddress();
        }
        return HexFormat.of().formatHex(Arrays.copyOf(bytes, 8)) + "/64";
    }
}

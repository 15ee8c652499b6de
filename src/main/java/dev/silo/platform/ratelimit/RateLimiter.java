package dev.silo.platform.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.distributed.proxy.ProxyManager;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.lettuce.core.api.StatefulRedisConnection;

import java.time.Duration;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Token buckets (Bucket4j) by key: in this node's memory, or in the shared Redis when there is one and it answers
 * (Bucket4j's Lettuce proxy manager, compare-and-swap), falling back to memory while it does not.
 *
 * <p>A bucket's key holds the limit's text ({@link RateLimit#spec}), so a changed limit (an operator's override)
 * starts a fresh bucket instead of reconfiguring a live one. Memory stays bounded: a bucket unused until it would
 * be full again is forgotten (forgetting it changes nothing), and at most {@link #MAX_LOCAL_BUCKETS} are kept;
 * buckets in Redis expire the same way (Bucket4j's {@code basedOnTimeForRefillingBucketUpToMax}).
 */
public final class RateLimiter {
    static final long MAX_LOCAL_BUCKETS = 200_000;

    /** The answer to one request: whether it may pass, and what the {@code RateLimit} header says. */
    public record Outcome(boolean allowed, long remaining, Duration reset, Duration retryAfter) {
        public Outcome {
            requireNonNull(reset, "reset is null");
            requireNonNull(retryAfter, "retryAfter is null");
        }
    }

    private record LocalBucket(Bucket bucket, Duration idleUntilFull) {}

    private final Cache<String, LocalBucket> local = Caffeine.newBuilder()
            .maximumSize(MAX_LOCAL_BUCKETS)
            .expireAfter(new Expiry<String, LocalBucket>() {
                @Override
                public long expireAfterCreate(String key, LocalBucket value, long currentTime) {
                    return value.idleUntilFull().toNanos();
                }

                @Override
                public long expireAfterUpdate(String key, LocalBucket value, long currentTime, long currentDuration) {
                    return value.idleUntilFull().toNanos();
                }

                @Override
                public long expireAfterRead(String key, LocalBucket value, long currentTime, long currentDuration) {
                    return value.idleUntilFull().toNanos();
                }
            })
            .build();
    private final Optional<SharedRedis> redis;
    private volatile StatefulRedisConnection<String, byte[]> proxiedConnection;
    private volatile ProxyManager<String> proxies;

    public RateLimiter(Optional<SharedRedis> redis) {
        this.redis = requireNonNull(redis, "redis is null");
    }

    /** Takes one token from the bucket of {@code key} under {@code limit}. */
    public Outcome tryConsume(String key, RateLimit limit) {
        requireNonNull(key, "key is null");
        requireNonNull(limit, "limit is null");
        String bucketKey = "silo:rl:" + key + ":" + limit.spec();
        if (redis.isPresent()) {
            Optional<StatefulRedisConnection<String, byte[]>> connection = redis.get().connection();
            if (connection.isPresent()) {
                try {
                    ConsumptionProbe probe = proxies(connection.get()).builder()
                            .build(bucketKey, limit::configuration)
                            .tryConsumeAndReturnRemaining(1);
                    return outcome(probe, limit);
                } catch (RuntimeException e) {
                    redis.get().failed(e);
                }
            }
        }
        LocalBucket bucket = local.get(bucketKey, k -> new LocalBucket(
                Bucket.builder().addLimit(limit.configuration().getBandwidths()[0]).build(), limit.idleUntilFull()));
        return outcome(bucket.bucket().tryConsumeAndReturnRemaining(1), limit);
    }

    /** Buckets held in this node's memory now (after pending evictions): for tests of the bound. */
    long localBuckets() {
        local.cleanUp();
        return local.estimatedSize();
    }

    private ProxyManager<String> proxies(StatefulRedisConnection<String, byte[]> connection) {
        ProxyManager<String> current = proxies;
        if (current == null || proxiedConnection != connection) {
            current = Bucket4jLettuce.casBasedBuilder(connection)
                    .expirationAfterWrite(ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(Duration.ofSeconds(10)))
                    .requestTimeout(SharedRedis.COMMAND_TIMEOUT)
                    .build();
            proxies = current;
            proxiedConnection = connection;
        }
        return current;
    }

    private static Outcome outcome(ConsumptionProbe probe, RateLimit limit) {
        long missing = limit.capacity() - probe.getRemainingTokens();
        Duration perToken = limit.refillPeriod().dividedBy(limit.refillTokens());
        Duration reset = perToken.multipliedBy(Math.max(0, missing));
        return new Outcome(probe.isConsumed(), probe.getRemainingTokens(), reset, Duration.ofNanos(probe.getNanosToWaitForRefill()));
    }
}

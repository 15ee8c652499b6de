package dev.silo.platform.ratelimit;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.Objects.requireNonNull;

/**
 * The Redis that every node shares ({@code SILO_REDIS_URL}) for rate-limit buckets and the login throttle, or
 * nothing at this moment: a caller asks {@link #connection()} on every use and falls back to its own memory when
 * it is empty, and reports a failed command with {@link #failed}. A request never waits long on Redis: commands
 * time out after {@link #COMMAND_TIMEOUT}, and while the connection is down they are refused at once (Lettuce's
 * {@code REJECT_COMMANDS}) instead of being queued; connecting happens on a background platform thread, never on
 * a request. While Redis is unusable one {@code system} warning is logged per minute; Lettuce reconnects on its
 * own, and the first use after that goes back to Redis.
 */
public final class SharedRedis implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SharedRedis.class);

    /** The longest a request waits on one Redis command before it uses the node's memory instead. */
    public static final Duration COMMAND_TIMEOUT = Duration.ofMillis(300);
    private static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(1);
    private static final Duration WARNING_INTERVAL = Duration.ofMinutes(1);
    static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

    private final RedisClient client;
    private final ClientResources resources;
    private final ScheduledExecutorService connector;
    private volatile StatefulRedisConnection<String, byte[]> connection;
    private volatile long unusableUntilNanos;
    private final AtomicLong lastWarningNanos = new AtomicLong(System.nanoTime() - WARNING_INTERVAL.toNanos() - 1);
    private volatile boolean warned;
    private final AtomicLong fallbacks = new AtomicLong();

    private SharedRedis(String url) {
        RedisURI uri = RedisURI.create(requireNonNull(url, "url is null"));
        uri.setTimeout(COMMAND_TIMEOUT);
        this.resources = ClientResources.builder().ioThreadPoolSize(2).computationThreadPoolSize(2)
                .reconnectDelay(Delay.constant(Duration.ofSeconds(1))).build();
        this.client = RedisClient.create(resources, uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                // TCP_NODELAY stated, not left to the default: a command must not wait ~40 ms for a delayed ACK.
                .socketOptions(SocketOptions.builder().connectTimeout(Duration.ofSeconds(1)).tcpNoDelay(true).build())
                .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT))
                .build());
        this.connector = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("silo-redis").factory());
        // A first attempt at start (at most the connect timeout), so the first requests do not fall back and warn
        // while a healthy Redis is still being connected to; after that, attempts run in the background only.
        connectIfNeeded();
        connector.scheduleWithFixedDelay(this::connectIfNeeded, 1, 1, TimeUnit.SECONDS);
    }

    /** Connects in the background (a node starts whether Redis answers or not). */
    public static SharedRedis open(String url) {
        return new SharedRedis(url);
    }

    private void connectIfNeeded() {
        if (connection != null) {
            return;
        }
        try {
            connection = client.connect(CODEC);
            if (warned) {
                log.info("Redis (SILO_REDIS_URL) answers: rate limits and the login throttle are shared by every node again");
                warned = false;
            } else {
                log.info("Redis (SILO_REDIS_URL) connected: rate limits and the login throttle are shared by every node");
            }
        } catch (RuntimeException e) {
            unusable(e);
        }
    }

    /** The connection to use now, or empty when Redis is not usable (then use the node's memory); never blocks. */
    public Optional<StatefulRedisConnection<String, byte[]>> connection() {
        StatefulRedisConnection<String, byte[]> current = connection;
        if (current == null || !current.isOpen() || System.nanoTime() - unusableUntilNanos < 0) {
            fallback(current == null ? "not connected" : "connection lost");
            return Optional.empty();
        }
        if (warned) {
            warned = false;
            log.info("Redis (SILO_REDIS_URL) answers again: rate limits and the login throttle are shared by every node again");
        }
        return Optional.of(current);
    }

    /** A command failed or timed out: memory for a moment, then Redis is tried again. */
    public void failed(Throwable error) {
        unusableUntilNanos = System.nanoTime() + RETRY_AFTER_FAILURE.toNanos();
        fallback(error.getClass().getSimpleName());
    }

    /** The options the Redis client was built with: for tests. */
    ClientOptions clientOptions() {
        return client.getOptions();
    }

    /** Uses of the node's memory instead of Redis since start: for tests and metrics. */
    public long fallbacks() {
        return fallbacks.get();
    }

    private void unusable(Throwable error) {
        unusableUntilNanos = System.nanoTime() + RETRY_AFTER_FAILURE.toNanos();
        fallback(error.getClass().getSimpleName());
    }

    private void fallback(String why) {
        fallbacks.incrementAndGet();
        long now = System.nanoTime();
        long last = lastWarningNanos.get();
        if (now - last >= WARNING_INTERVAL.toNanos() && lastWarningNanos.compareAndSet(last, now)) {
            warned = true;
            // Never the URL: it may carry a password.
            log.warn("Redis (SILO_REDIS_URL) unreachable ({}): rate limits and the login throttle are per node until it answers",
                    why);
        }
    }

    @Override
    public void close() {
        connector.shutdownNow();
        StatefulRedisConnection<String, byte[]> current = connection;
        if (current != null) {
            current.close();
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}

package dev.silo.platform.db;

import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.problem.Unavailable;

import java.time.Duration;
import java.util.Locale;

import static java.util.Objects.requireNonNull;

/**
 * Whether the PostgreSQL server Silo supervises (the embedded one) is known to be down right now. The supervisor
 * sets it the moment the postmaster dies and clears it once the restarted server accepts connections; pools to
 * that server consult it so that requests get a 503 {@code database-unavailable} at once instead of waiting out
 * a connection timeout against a server that is not there (and then being told the pool was busy).
 *
 * <p>A server nobody supervises (an external placement) is {@link #unsupervised()}: never known down, its
 * failures are still classified by {@link DatabaseFailures} when they happen.
 */
public final class DatabaseAvailability {
    /** What a client should wait before retrying while the server restarts (crash recovery takes seconds). */
    static final Duration RETRY_AFTER = Duration.ofSeconds(2);

    private final String host;
    private final int port;
    private volatile String downReason;

    private DatabaseAvailability(String host, int port) {
        this.host = host;
        this.port = port;
    }

    /** The availability of the server on {@code host:port}, up until the supervisor says otherwise. */
    public static DatabaseAvailability of(String host, int port) {
        requireNonNull(host, "host is null");
        return new DatabaseAvailability(host.toLowerCase(Locale.ROOT), port);
    }

    public static DatabaseAvailability unsupervised() {
        return new DatabaseAvailability("", -1);
    }

    public boolean isDown() {
        return downReason != null;
    }

    /** True when {@code url} points at this server and it is known to be down. */
    public boolean isDown(DatabaseUrl url) {
        return downReason != null && url.port() == port && sameHost(url.host());
    }

    void markDown(String reason) {
        downReason = requireNonNull(reason, "reason is null");
    }

    void markUp() {
        downReason = null;
    }

    /** The problem a request gets while the server is down. */
    public Unavailable problem() {
        return DatabaseFailures.unavailable();
    }

    private boolean sameHost(String other) {
        String normalized = other.toLowerCase(Locale.ROOT);
        return normalized.equals(host) || (isLoopback(normalized) && isLoopback(host));
    }

    private static boolean isLoopback(String name) {
        return name.equals("localhost") || name.equals("127.0.0.1") || name.equals("::1") || name.equals("[::1]");
    }
}

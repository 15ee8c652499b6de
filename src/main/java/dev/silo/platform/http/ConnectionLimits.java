package dev.silo.platform.http;

import java.lang.management.ManagementFactory;
import java.time.Duration;

import static java.util.Objects.requireNonNull;

/**
 * Limits on HTTP connections (claim C8): a slow or hostile client must not keep the listener's sockets, and the
 * process must never run out of file descriptors (Helidon's accept loop ends for good when it does).
 *
 * @param maxConnections           open connections at most; more are closed at once ({@code SILO_MAX_CONNECTIONS})
 * @param maxConnectionsPerAddress open connections from one client address at most ({@code SILO_MAX_CONNECTIONS_PER_ADDRESS})
 * @param headerTimeout            a request head must be complete this long after its first byte, or after the
 *                                 connection opened ({@code SILO_HEADER_TIMEOUT_SECONDS})
 * @param idleTimeout              a keep-alive connection with no request for this long is closed ({@code SILO_IDLE_TIMEOUT_SECONDS})
 */
public record ConnectionLimits(int maxConnections, int maxConnectionsPerAddress, Duration headerTimeout, Duration idleTimeout) {
    /** Descriptors left for everything else: database connections, the jar, logs, the embedded PostgreSQL's pipes. */
    static final int RESERVED_DESCRIPTORS = 256;

    public ConnectionLimits {
        requireNonNull(headerTimeout, "headerTimeout is null");
        requireNonNull(idleTimeout, "idleTimeout is null");
        if (maxConnections < 1 || maxConnectionsPerAddress < 1) {
            throw new IllegalArgumentException("connection limits must be positive");
        }
        if (headerTimeout.isNegative() || headerTimeout.isZero() || idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("timeouts must be positive");
        }
    }

    public static ConnectionLimits defaults() {
        return new ConnectionLimits(4096, 256, Duration.ofSeconds(10), Duration.ofSeconds(60));
    }

    /**
     * These limits kept under the process's descriptor limit ({@code ulimit -n}) less {@link #RESERVED_DESCRIPTORS}:
     * the connection cap only protects the listener if it is reached before the descriptors run out.
     */
    ConnectionLimits underDescriptorLimit(long descriptorLimit) {
        if (descriptorLimit <= 0) {
            return this;
        }
        int ceiling = (int) Math.max(16, Math.min(Integer.MAX_VALUE, descriptorLimit - RESERVED_DESCRIPTORS));
        if (maxConnections <= ceiling) {
            return this;
        }
        return new ConnectionLimits(ceiling, Math.min(maxConnectionsPerAddress, ceiling), headerTimeout, idleTimeout);
    }

    /** The process's descriptor limit, or -1 where the platform does not say. */
    static long descriptorLimit() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            return unix.getMaxFileDescriptorCount();
        }
        return -1;
    }
}

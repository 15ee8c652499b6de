package dev.silo.platform.http;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.concurrency.limits.Limit;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http1.Http1ConnectionListener;
import io.helidon.webserver.http1.Http1ConnectionSelector;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.webserver.spi.ServerConnectionSelector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.Objects.requireNonNull;

/**
 * Admission and deadlines for HTTP/1.1 connections, wrapped around Helidon's own HTTP/1.1 connection.
 *
 * <p>Helidon 4.5 has neither a deadline for reading a request head nor a per-address limit, and its
 * {@code maxTcpConnections} makes the accept loop wait (connections pile up in the backlog) instead of
 * refusing. So every accepted connection passes through here first: over {@link ConnectionLimits#maxConnections}
 * open connections, or {@link ConnectionLimits#maxConnectionsPerAddress} from one address, it is closed at once,
 * before anything is read. The first request head (request line and headers) must be complete within
 * {@link ConnectionLimits#headerTimeout} of the connection opening, and the headers of every later request on a
 * keep-alive connection within that time of its request line (Helidon 4.5 tells listeners of request lines and
 * header blocks, not of single bytes); a sweeper closes the socket of a connection past its deadline (a
 * slow-loris client holding half a request). Idle keep-alive connections, and a request line trickling in on
 * one, are closed by Helidon's own idle timeout, configured from {@link ConnectionLimits#idleTimeout}.
 *
 * <p>On a TLS listener Helidon hands the connection here before the handshake has run (it happens on the first
 * read), so the caps and the head deadline also cover a client that opens TCP and never finishes its hello.
 */
final class ConnectionGuard implements ServerConnectionSelector, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConnectionGuard.class);
    /** At most one warning a minute about refused connections: an attack must not flood the log. */
    private static final long REFUSAL_WARNING_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);
    /** Helidon serves each connection on one virtual thread: the direct handlers run on it too. */
    private static final ThreadLocal<Guarded> CURRENT = new ThreadLocal<>();

    private final ConnectionLimits limits;
    private final Http1ConnectionSelector http1;
    private final Set<Guarded> open = ConcurrentHashMap.newKeySet();
    private final Map<ConnectionContext, Guarded> byContext = new ConcurrentHashMap<>();
    private final Map<InetAddress, Integer> perAddress = new ConcurrentHashMap<>();
    private final TrustedProxies proxies;
    private final AtomicInteger total = new AtomicInteger();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong headTimeouts = new AtomicLong();
    private final AtomicLong lastRefusalWarning = new AtomicLong(System.nanoTime() - REFUSAL_WARNING_INTERVAL_NANOS);
    private final ScheduledExecutorService sweeper;

    ConnectionGuard(ConnectionLimits limits, Http1Config.Builder http1Config, TrustedProxies proxies) {
        this.limits = requireNonNull(limits, "limits is null");
        this.proxies = requireNonNull(proxies, "proxies is null");
        this.http1 = Http1ConnectionSelector.builder()
                .config(http1Config.addReceiveListener(new ReceiveListener()).build())
                .build();
        this.sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("silo-http-deadlines").factory());
        long period = Math.max(50, Math.min(1000, limits.headerTimeout().toMillis() / 4));
        sweeper.scheduleWithFixedDelay(this::closeOverdue, period, period, TimeUnit.MILLISECONDS);
    }

    /** Open connections admitted now. */
    int openConnections() {
        return total.get();
    }

    /** Connections closed at once because a limit was reached, since start. */
    long refusedConnections() {
        return refused.get();
    }

    /** Connections closed because their request head did not arrive in time, since start. */
    long headTimeouts() {
        return headTimeouts.get();
    }

    @Override
    public int bytesToIdentifyConnection() {
        return 0;
    }

    @Override
    public Support supports(BufferData request) {
        return http1.supports(request);
    }

    @Override
    public Set<String> supportedApplicationProtocols() {
        return http1.supportedApplicationProtocols();
    }

    @Override
    public ServerConnection connection(ConnectionContext context) {
        return new Guarded(context, http1.connection(context));
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
    }

    private void closeOverdue() {
        long now = System.nanoTime();
        for (Guarded connection : open) {
            long deadline = connection.headDeadline;
            if (deadline != 0 && now - deadline > 0) {
                connection.timeOut();
            }
        }
    }

    private void warnRefusal(String why) {
        long last = lastRefusalWarning.get();
        long now = System.nanoTime();
        if (now - last >= REFUSAL_WARNING_INTERVAL_NANOS && lastRefusalWarning.compareAndSet(last, now)) {
            log.warn("Closing new HTTP connections at once: {} ({} refused since start; this warning repeats at most once a minute)",
                    why, refused.get());
        }
    }

    /** One admitted connection: counts, the head deadline, and what ended it. */
    private final class Guarded implements ServerConnection {
        private final ConnectionContext context;
        private final ServerConnection delegate;
        private final InetAddress address;
        private final InetAddress peer;
        /** {@code System.nanoTime()} by which the current request head must be complete; 0 when none is awaited. */
        private volatile long headDeadline;
        /** True between the first byte of a request and the end of its head. */
        private volatile boolean readingHead;
        private volatile boolean timedOut;

        Guarded(ConnectionContext context, ServerConnection delegate) {
            this.context = context;
            this.delegate = delegate;
            InetAddress peer = context.remotePeer().address() instanceof InetSocketAddress inet ? inet.getAddress() : null;
            this.peer = peer;
            // A trusted proxy carries many clients' connections: the per-address cap would cap them all together.
            this.address = peer != null && proxies.trusts(peer) ? null : peer;
        }

        @Override
        public void handle(Limit limit) throws InterruptedException {
            if (!admit()) {
                return; // the caller closes the socket: nothing was read, nothing is written
            }
            headDeadline = System.nanoTime() + limits.headerTimeout().toNanos();
            open.add(this);
            byContext.put(context, this);
            CURRENT.set(this);
            try {
                delegate.handle(limit);
            } catch (CloseConnectionException e) {
                if (readingHead && !timedOut) {
                    ClientDisconnects.record("before the request head was complete", null);
                }
                throw e;
            } finally {
                open.remove(this);
                byContext.remove(context);
                release();
                if (timedOut) {
                    ClientDisconnects.discardPending();
                } else {
                    ClientDisconnects.settlePending(readingHead);
                }
                CURRENT.remove();
            }
        }

        private boolean admit() {
            int now = total.incrementAndGet();
            // merge and computeIfPresent are atomic per key: the count of an address is never lost to a race.
            int fromHere = address == null ? 0 : perAddress.merge(address, 1, Integer::sum);
            if (now > limits.maxConnections()) {
                refused.incrementAndGet();
                release();
                warnRefusal(limits.maxConnections() + " connections are open (SILO_MAX_CONNECTIONS)");
                return false;
            }
            if (fromHere > limits.maxConnectionsPerAddress()) {
                refused.incrementAndGet();
                release();
                warnRefusal(limits.maxConnectionsPerAddress() + " connections are open from " + address.getHostAddress()
                        + " (SILO_MAX_CONNECTIONS_PER_ADDRESS)");
                return false;
            }
            return true;
        }

        private void release() {
            total.decrementAndGet();
            if (address != null) {
                perAddress.computeIfPresent(address, (key, count) -> count <= 1 ? null : count - 1);
            }
        }

        void timeOut() {
            timedOut = true;
            headDeadline = 0;
            headTimeouts.incrementAndGet();
            log.debug("Closing a connection from {}: no complete request head within {} s", address == null ? "?"
                    : address.getHostAddress(), limits.headerTimeout().toSeconds());
            context.serverSocket().close();
        }

        /**
         * The request line has arrived. The first request's head keeps the deadline set when the connection opened;
         * a later one (keep-alive) gets the header timeout from here: waiting for its request line is bounded by
         * Helidon's idle timeout, which closes a connection idle in the request line.
         */
        void requestLineReceived() {
            readingHead = true;
            if (headDeadline == 0) {
                headDeadline = System.nanoTime() + limits.headerTimeout().toNanos();
            }
        }

        void headReceived() {
            headDeadline = 0;
            readingHead = false;
        }

        @Override
        public Duration idleTime() {
            return delegate.idleTime();
        }

        @Override
        public void close(boolean interrupt) {
            delegate.close(interrupt);
        }
    }

    /** Sees each request line and the end of each request head, on the connection's own thread. */
    private final class ReceiveListener implements Http1ConnectionListener {
        @Override
        public void prologue(ConnectionContext context, HttpPrologue prologue) {
            Guarded connection = byContext.get(context);
            if (connection != null) {
                connection.requestLineReceived();
            }
        }

        @Override
        public void headers(ConnectionContext context, Headers headers) {
            Guarded connection = byContext.get(context);
            if (connection != null) {
                connection.headReceived();
            }
        }
    }

    /** The client address of the connection the current thread serves, for lines written outside a request. */
    static String currentClient() {
        Guarded connection = CURRENT.get();
        return connection == null || connection.address == null ? "" : connection.address.getHostAddress();
    }

    /** The TCP peer of the connection the current thread serves (a trusted proxy included), if known. */
    static java.util.Optional<InetAddress> currentPeer() {
        Guarded connection = CURRENT.get();
        return connection == null ? java.util.Optional.empty() : java.util.Optional.ofNullable(connection.peer);
    }

    /**
     * Ends the current thread's connection once the request being served is answered: the client sent
     * {@code Connection: close} (RFC 9112 section 9.6), which Helidon 4.5 answers with the header but then keeps
     * reading the connection.
     */
    static void closeAfterThisRequest() {
        Guarded connection = CURRENT.get();
        if (connection != null) {
            connection.close(false);
        }
    }
}

package dev.silo.platform.http;

import io.helidon.common.buffers.DataReader;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.ServerConnectionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.EOFException;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.LogRecord;

/**
 * Clients that go away in the middle of a request (claim C8, log amplification): each is one short DEBUG line
 * and a count, never a warning with a stack trace, so a flood of half-sent requests cannot fill the disk.
 *
 * <p>Helidon reports a connection that ends inside a request head as a 500 "Internal server error" with a
 * stack trace at WARNING. Its direct handler runs first, on the same thread, and marks the response pending
 * here; a filter on Helidon's logger then tells a disconnect from a real fault. When the 500 cannot even be
 * written (the peer is gone), no record comes, and the connection's end settles the pending mark instead.
 */
final class ClientDisconnects {
    private static final Logger log = LoggerFactory.getLogger(ClientDisconnects.class);
    private static final AtomicLong COUNT = new AtomicLong();
    private static final ThreadLocal<Pending> PENDING = new ThreadLocal<>();
    /** Held strongly: {@code java.util.logging} keeps loggers only weakly, and would drop the filter with it. */
    private static final java.util.logging.Logger HTTP1_LOGGER =
            java.util.logging.Logger.getLogger("io.helidon.webserver.http1.Http1Connection");
    /** Where Helidon reports an error that escaped routing unanswered; a disconnect must not arrive as a WARN here either. */
    private static final java.util.logging.Logger ROUTING_LOGGER =
            java.util.logging.Logger.getLogger("io.helidon.webserver.http.DirectHandlers");

    /** A 500 from Helidon's connection loop whose cause is not known yet. */
    private record Pending(String requestId, Runnable logAsFault) {}

    static {
        HTTP1_LOGGER.setFilter(ClientDisconnects::filter);
        ROUTING_LOGGER.setFilter(record -> !(record.getThrown() != null && isDisconnect(record.getThrown())));
    }

    private ClientDisconnects() {}

    /** Client disconnects since start (all servers of this process). */
    static long count() {
        return COUNT.get();
    }

    /** Makes sure the filter on Helidon's logger is in place. */
    static void install() {
        // the static initializer did it
    }

    static void record(String when, String requestId) {
        COUNT.incrementAndGet();
        log.debug("Client {} closed the connection {}{}", ConnectionGuard.currentClient(), when,
                requestId == null ? "" : " (request " + requestId + ")");
    }

    /** True when {@code error} means the client closed or reset the connection. */
    static boolean isDisconnect(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof DataReader.InsufficientDataAvailableException || cause instanceof ServerConnectionException
                    || cause instanceof CloseConnectionException || cause instanceof SocketException
                    || cause instanceof ClosedChannelException || cause instanceof EOFException) {
                return true;
            }
            if (cause.getCause() == cause) {
                break;
            }
        }
        return false;
    }

    /** The direct handler is answering a connection-level 500; {@code logAsFault} writes its lines if it is a real fault. */
    static void markPending(String requestId, Runnable logAsFault) {
        PENDING.set(new Pending(requestId, logAsFault));
    }

    /**
     * The connection ended: a 500 still pending was never written, so the client was gone. Counted when a request
     * had begun ({@code midRequest}); otherwise it was an idle connection closed by the server.
     */
    static void settlePending(boolean midRequest) {
        Pending pending = PENDING.get();
        PENDING.remove();
        if (pending != null && midRequest) {
            record("before the request head was complete", pending.requestId());
        }
    }

    static void discardPending() {
        PENDING.remove();
    }

    private static boolean filter(LogRecord record) {
        if (!"Internal server error".equals(record.getMessage())) {
            return true;
        }
        Pending pending = PENDING.get();
        PENDING.remove();
        if (isDisconnect(record.getThrown())) {
            record("before the request head was complete", pending == null ? null : pending.requestId());
            return false;
        }
        if (pending != null) {
            pending.logAsFault().run();
        }
        return true;
    }
}

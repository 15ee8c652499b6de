package dev.silo.platform.log.drain;

import java.io.IOException;
import java.util.List;

/** How the syslog messages of one drain leave: a TCP or TLS connection, or HTTPS posts. */
interface DrainTransport {
    boolean connected();

    /** Opens the connection (a no-op where each send opens its own). */
    void connect() throws IOException;

    /** Sends {@code messages} (each a whole SYSLOG-MSG) or throws; after a throw the connection is closed. */
    void send(List<byte[]> messages) throws IOException;

    /** Closes the connection, to be opened again; safe from another thread, where it ends a write that does not return. */
    void disconnect();

    /** Closes the connection for good (at stop). */
    default void close() {
        disconnect();
    }
}

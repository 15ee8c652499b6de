package dev.silo.platform.db;

import dev.silo.platform.config.DatabaseUrl;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import static java.util.Objects.requireNonNull;

/**
 * Catalog changes that every node must learn at once (a tenant suspended, a key rotated, a user's tokens
 * revoked) travel through PostgreSQL {@code LISTEN/NOTIFY} on one channel. A publisher notifies inside its
 * transaction, so the message leaves only on commit. Each node keeps one listening connection; when it is
 * lost, listeners get {@link #RESYNC} (drop every cache) and the node reconnects.
 */
public final class CatalogEvents implements AutoCloseable {
    public static final String CHANNEL = "silo_catalog";
    /** Sent to listeners after the listening connection was (re)established: caches may be stale. */
    public static final String RESYNC = "*";
    private static final Logger log = LoggerFactory.getLogger(CatalogEvents.class);

    private final DatabaseUrl catalogUrl;
    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
    private volatile boolean running = true;
    private volatile Thread thread;

    public CatalogEvents(DatabaseUrl catalogUrl) {
        this.catalogUrl = requireNonNull(catalogUrl, "catalogUrl is null");
    }

    /** Publishes {@code payload} when the transaction of {@code connection} commits. */
    public static void publish(Connection connection, String payload) throws SQLException {
        try (PreparedStatement notify = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
            notify.setString(1, CHANNEL);
            notify.setString(2, payload);
            notify.execute();
        }
    }

    /** Publishes {@code payload} at once, for changes committed elsewhere (in a tenant's database). */
    public static void publishNow(javax.sql.DataSource catalog, String payload) {
        Sql.withConnection(catalog, connection -> {
            publish(connection, payload);
            return null;
        });
    }

    public void subscribe(Consumer<String> listener) {
        listeners.add(requireNonNull(listener, "listener is null"));
    }

    /**
     * Tells this node's listeners at once (after the publishing transaction committed), without waiting for the
     * round trip through PostgreSQL; the NOTIFY still reaches the other nodes.
     */
    public void local(String payload) {
        dispatch(payload);
    }

    /** Publishes to every node now and dispatches locally at once: for changes committed in a tenant database. */
    public void announce(javax.sql.DataSource catalog, String payload) {
        publishNow(catalog, payload);
        dispatch(payload);
    }

    public void start() {
        thread = Thread.ofPlatform().daemon().name("catalog-events").start(this::listen);
    }

    private void listen() {
        long backoff = 200;
        while (running) {
            try (Connection connection = DriverManager.getConnection(catalogUrl.jdbcUrl(), catalogUrl.properties());
                 Statement statement = connection.createStatement()) {
                statement.execute("LISTEN " + CHANNEL);
                dispatch(RESYNC);
                backoff = 200;
                PGConnection pg = connection.unwrap(PGConnection.class);
                while (running) {
                    PGNotification[] notifications = pg.getNotifications(500);
                    if (notifications != null) {
                        for (PGNotification notification : notifications) {
                            dispatch(notification.getParameter());
                        }
                    }
                }
            } catch (SQLException e) {
                if (running) {
                    log.warn("Lost the catalog event connection ({}); reconnecting in {} ms", e.getMessage(), backoff);
                    sleep(backoff);
                    backoff = Math.min(backoff * 2, 5000);
                }
            }
        }
    }

    private void dispatch(String payload) {
        for (Consumer<String> listener : listeners) {
            try {
                listener.accept(payload);
            } catch (RuntimeException e) {
                log.warn("A catalog event listener failed on {}: {}", payload, e.toString());
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
        Thread listener = thread;
        if (listener != null) {
            try {
                listener.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

package dev.silo.platform.db;

import dev.silo.platform.config.DatabaseUrl;
import org.postgresql.PGProperty;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import java.util.Properties;

/**
 * A PostgreSQL session-level advisory lock held on a connection of its own for as long as a long job runs (a base
 * backup, a restore drill): one such job at a time across nodes and commands. Closing it closes the connection,
 * which ends the session and with it the lock, also when the process dies.
 */
public final class SessionLock implements AutoCloseable {
    private final Connection connection;

    private SessionLock(Connection connection) {
        this.connection = connection;
    }

    /**
     * Opens a connection to {@code url} (named {@code applicationName} in {@code pg_stat_activity}) and takes lock
     * {@code key} on it; empty when another session holds it.
     *
     * @throws RuntimeException the translated SQL failure when the server cannot be reached
     */
    public static Optional<SessionLock> tryAcquire(DatabaseUrl url, String applicationName, long key) {
        return tryAcquire(url, applicationName, "pg_try_advisory_lock(" + key + ")");
    }

    /**
     * Lock {@code (space, key)} of PostgreSQL's two-key advisory locks (apart from the one-key locks): one lock per
     * object of a kind, such as a placement being drained.
     */
    public static Optional<SessionLock> tryAcquire(DatabaseUrl url, String applicationName, int space, int key) {
        return tryAcquire(url, applicationName, "pg_try_advisory_lock(" + space + ", " + key + ")");
    }

    private static Optional<SessionLock> tryAcquire(DatabaseUrl url, String applicationName, String call) {
        Connection connection;
        try {
            Properties properties = url.properties();
            PGProperty.APPLICATION_NAME.set(properties, applicationName);
            connection = DriverManager.getConnection(url.jdbcUrl(), properties);
        } catch (SQLException e) {
            throw Sql.translate(e);
        }
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT " + call)) {
            if (rs.next() && rs.getBoolean(1)) {
                return Optional.of(new SessionLock(connection));
            }
            closeQuietly(connection);
            return Optional.empty();
        } catch (SQLException e) {
            closeQuietly(connection);
            throw Sql.translate(e);
        }
    }

    /** The connection holding the lock, for work that must run in the same session. */
    public Connection connection() {
        return connection;
    }

    @Override
    public void close() {
        closeQuietly(connection);
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException e) {
            // the session is gone either way, and with it the lock
        }
    }
}

package dev.silo.platform.db;

import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.Unavailable;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.regex.Pattern;

/**
 * Transactions and identifier quoting. SQL is written out next to the code that runs it; the only identifiers
 * ever spliced into SQL are database and role names derived from tenant ids, and they go through
 * {@link #identifier}.
 */
public final class Sql {
    private static final Pattern SAFE_IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

    private Sql() {}

    @FunctionalInterface
    public interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    /** Quotes an identifier that Silo derived itself; anything else is a bug and is refused. */
    public static String identifier(String name) {
        if (name == null || !SAFE_IDENTIFIER.matcher(name).matches()) {
            throw new IllegalArgumentException("refusing to splice identifier " + name);
        }
        return '"' + name + '"';
    }

    /** Runs {@code work} in one transaction, committing on success, translating SQLSTATEs callers care about. */
    public static <T> T inTransaction(DataSource dataSource, Work<T> work) {
        try (Connection connection = dataSource.getConnection()) {
            boolean autoCommit = connection.getAutoCommit();
            connection.setAutoCommit(false);
            try {
                T result = work.run(connection);
                connection.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                rollbackQuietly(connection);
                throw e;
            } finally {
                // Quietly: after a lost connection the pool has already closed it, and "connection is closed" here
                // must not hide the failure that says why (the pool resets auto-commit on return anyway).
                restoreAutoCommitQuietly(connection, autoCommit);
            }
        } catch (SQLException e) {
            throw translate(e);
        }
    }

    /** Runs {@code work} on one connection in auto-commit mode. */
    public static <T> T withConnection(DataSource dataSource, Work<T> work) {
        try (Connection connection = dataSource.getConnection()) {
            return work.run(connection);
        } catch (SQLException e) {
            throw translate(e);
        }
    }

    private static void restoreAutoCommitQuietly(Connection connection, boolean autoCommit) {
        try {
            if (!connection.isClosed()) {
                connection.setAutoCommit(autoCommit);
            }
        } catch (SQLException ignored) {
            // the connection is broken; the pool will discard it
        }
    }

    private static void rollbackQuietly(Connection connection) {
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // the connection is broken; the pool will discard it
        }
    }

    /** Maps a SQLSTATE to the problem callers act on; everything else stays an internal error. */
    public static RuntimeException translate(SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        if (state.equals("23505")) {
            return new Conflict("already exists");
        }
        if (DatabaseFailures.isConnectionFailure(e)) {
            // the server cannot be reached (down, restarting, refusing): not a busy pool
            return DatabaseFailures.unavailable();
        }
        if (e instanceof java.sql.SQLTransientConnectionException || state.equals("53300")) {
            // a pool found no connection within its bound, or the server is at max_connections: busy, not broken
            return new Unavailable("busy", "all database connections are in use; retry shortly", Duration.ofSeconds(1));
        }
        return new DatabaseException(e);
    }

    /** An unexpected database failure: logged with its SQLSTATE, rendered as an opaque 500. */
    public static final class DatabaseException extends RuntimeException {
        public DatabaseException(SQLException cause) {
            super("database error " + cause.getSQLState() + ": " + cause.getMessage(), cause);
        }

        public String sqlState() {
            return ((SQLException) getCause()).getSQLState();
        }
    }
}

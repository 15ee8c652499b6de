package dev.silo.platform.db;

import dev.silo.platform.problem.Unavailable;

import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.sql.SQLException;
import java.util.Optional;

/**
 * Tells a database that is unreachable from every other database failure, wherever the exception surfaces
 * (translated by {@link Sql}, or wrapped by a caller and reaching the HTTP server's last-resort handler): the
 * request then gets a 503 {@code database-unavailable} with {@code Retry-After}, never an opaque 500, and never
 * "all connections are in use" when the truth is that none can be opened.
 *
 * <p>Connection-class failures are SQLSTATE class 08 (connection exception: refused, broken, I/O error),
 * 57P01/57P02/57P03 (administrator shutdown, crash shutdown of another backend, cannot connect now: the states a
 * server in crash recovery answers with), and a socket refusal or timeout underneath.
 */
public final class DatabaseFailures {
    private static final int MAX_DEPTH = 16;

    private DatabaseFailures() {}

    /** The 503 a request gets while its database cannot be reached. */
    public static Unavailable unavailable() {
        return new Unavailable("database-unavailable", "the database is unavailable (restarting or unreachable); retry shortly",
                DatabaseAvailability.RETRY_AFTER);
    }

    /** The 503 for {@code error} when it, or one of its causes, says the database cannot be reached. */
    public static Optional<Unavailable> asUnavailable(Throwable error) {
        Throwable cause = error;
        boolean underSql = false;
        for (int depth = 0; cause != null && depth < MAX_DEPTH; depth++) {
            if (cause instanceof Unavailable unavailable) {
                return Optional.of(unavailable);
            }
            if (cause instanceof SQLException sql && isConnectionState(sql.getSQLState())) {
                return Optional.of(unavailable());
            }
            underSql |= cause instanceof SQLException;
            // a socket failure says "database" only beneath a database exception (not, say, an HTTP call's)
            if (underSql && (cause instanceof ConnectException || cause instanceof SocketTimeoutException)) {
                return Optional.of(unavailable());
            }
            if (cause instanceof SQLException sql && sql.getNextException() != null
                    && isConnectionState(sql.getNextException().getSQLState())) {
                return Optional.of(unavailable());
            }
            cause = cause.getCause() == cause ? null : cause.getCause();
        }
        return Optional.empty();
    }

    /**
     * True for a pool's "no connection within the timeout" that was caused by failing to connect (HikariCP copies
     * the SQLSTATE of the last connection failure into its timeout exception and keeps it as the cause).
     */
    static boolean isConnectionFailure(SQLException e) {
        return asUnavailable(e).isPresent();
    }

    static boolean isConnectionState(String state) {
        return state != null && (state.startsWith("08") || state.equals("57P01") || state.equals("57P02") || state.equals("57P03"));
    }
}

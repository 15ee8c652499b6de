package dev.silo.platform;

import dev.silo.platform.db.DatabaseFailures;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.Unavailable;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;

import static org.assertj.core.api.Assertions.assertThat;

/** Issue 11.5: a database that cannot be reached is reported as such, not as a busy pool or an internal error. */
class DatabaseFailuresTest {
    private static String typeOf(RuntimeException translated) {
        assertThat(translated).isInstanceOf(Unavailable.class);
        return ((Unavailable) translated).type();
    }

    @Test
    void aPoolTimeoutCausedByARefusedConnectionIsDatabaseUnavailableNotBusy() {
        // What HikariCP throws when it could not connect: the last failure's SQLSTATE and the failure as the cause.
        SQLException refused = new SQLException("Connection to localhost:5432 refused", "08001", new ConnectException("refused"));
        SQLException timeout = new SQLTransientConnectionException("catalog - Connection is not available, request timed out",
                "08001", refused);
        assertThat(typeOf(Sql.translate(timeout))).isEqualTo("database-unavailable");
        assertThat(((Unavailable) Sql.translate(timeout)).headers()).containsKey("Retry-After");
    }

    @Test
    void aPoolThatIsReallyBusyIsStillBusy() {
        assertThat(typeOf(Sql.translate(new SQLTransientConnectionException("request timed out after 3000ms")))).isEqualTo("busy");
        assertThat(typeOf(Sql.translate(new SQLTransientConnectionException("budget spent", "53300")))).isEqualTo("busy");
        assertThat(typeOf(Sql.translate(new SQLException("too many clients already", "53300")))).isEqualTo("busy");
    }

    @Test
    void serverShutdownAndCrashRecoveryStatesAreDatabaseUnavailable() {
        for (String state : new String[] {"08006", "08003", "57P01", "57P02", "57P03"}) {
            assertThat(typeOf(Sql.translate(new SQLException("lost", state)))).as(state).isEqualTo("database-unavailable");
        }
        assertThat(Sql.translate(new SQLException("syntax error", "42601"))).isInstanceOf(Sql.DatabaseException.class);
    }

    @Test
    void aLostConnectionWrappedByACallerIsStillRecognized() {
        var wrapped = new IllegalStateException("cannot load the tenant", new SQLException("An I/O error occurred", "08006"));
        assertThat(DatabaseFailures.asUnavailable(wrapped)).isPresent();
        // A socket failure outside any database exception is not the database's.
        assertThat(DatabaseFailures.asUnavailable(new IllegalStateException(new ConnectException("s3 refused")))).isEmpty();
        assertThat(DatabaseFailures.asUnavailable(new IllegalStateException("plain bug"))).isEmpty();
    }
}

package dev.silo.platform;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.core.PGStream;
import org.postgresql.jdbc.PgConnection;

import java.lang.reflect.Field;
import java.net.Socket;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * TCP_NODELAY on the PostgreSQL sockets Silo opens (issue 15.1): the catalog pool and a tenant's pool, read from
 * the connected socket itself. pgjdbc's {@code tcpNoDelay} defaults to true; a setting or a URL parameter that
 * turned it off would make every query whose answer spans two segments wait for the server's delayed ACK.
 */
class ClientSocketsTest {
    private static Silo silo;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
    }

    @Test
    void theCatalogPoolConnectsWithTcpNoDelayOverTls() throws Exception {
        try (Connection connection = silo.catalog().getConnection()) {
            Socket socket = socketOf(connection);
            assertThat(socket).isInstanceOf(javax.net.ssl.SSLSocket.class);
            assertThat(socket.getTcpNoDelay()).isTrue();
        }
    }

    @Test
    void aTenantPoolConnectsWithTcpNoDelayOverTls() {
        Tenant tenant = silo.tenants().create("nodelay-" + UUID.randomUUID().toString().substring(0, 8), null,
                Optional.empty(), Actor.SYSTEM);
        Socket socket = silo.core().tenantDatabases().withConnection(tenant, ClientSocketsTest::socketOf);
        assertThat(socket).isInstanceOf(javax.net.ssl.SSLSocket.class);
        assertThat(isTcpNoDelay(socket)).isTrue();
    }

    private static boolean isTcpNoDelay(Socket socket) {
        try {
            return socket.getTcpNoDelay();
        } catch (java.net.SocketException e) {
            throw new AssertionError("the socket is closed already", e);
        }
    }

    /** The socket under a pooled connection: pgjdbc keeps it in its query executor's {@code PGStream}. */
    private static Socket socketOf(Connection connection) {
        try {
            Object executor = connection.unwrap(PgConnection.class).getQueryExecutor();
            for (Class<?> type = executor.getClass(); type != null; type = type.getSuperclass()) {
                for (Field field : type.getDeclaredFields()) {
                    if (field.getType() == PGStream.class) {
                        field.setAccessible(true);
                        return ((PGStream) field.get(executor)).getSocket();
                    }
                }
            }
            throw new AssertionError("no PGStream in " + executor.getClass());
        } catch (SQLException | IllegalAccessException e) {
            throw new AssertionError(e);
        }
    }
}

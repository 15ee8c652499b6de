package dev.silo.app;

import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantSpares;
import dev.silo.audit.TenantAudit;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Start does not check tenant schemas before it is ready (issue 15, goal 4): the checks run in the background,
 * and a request to a tenant whose schema is behind migrates that tenant first, once, before it is served.
 */
class TenantSchemaStartTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String ZOE_NFC = "zo\u00eb@example.com";
    private static final String ZOE_NFD = "zoe\u0308@example.com";

    @Test
    void aTenantBehindIsMigratedAtItsFirstRequestAndReadinessDoesNotWaitForTenants() throws Exception {
        Path dir = TestingSilo.newDataDir("schemas");
        Tenant first;
        Tenant second;
        try (Silo silo = TestingSilo.startNew(dir, Map.of())) {
            first = silo.tenants().create("behind-first", null, Optional.empty(), Actor.SYSTEM);
            second = silo.tenants().create("behind-second", null, Optional.empty(), Actor.SYSTEM);
            for (Tenant tenant : new Tenant[] {first, second}) {
                silo.core().users().create(tenant, ZOE_NFC, "member", PASSWORD, TenantAudit.Context.SYSTEM);
                rollBackV4(silo, tenant);
            }
        }

        CountDownLatch release = new CountDownLatch(1);
        TenantSchemas.beforeChecks = () -> {
            try {
                release.await(2, TimeUnit.MINUTES); // a hang guard: the test releases it
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try (Silo silo = TestingSilo.startNew(dir, Map.of())) {
            TestingHttp http = new TestingHttp(silo.baseUri());
            assertThat(http.get("/health/ready").status()).as("ready while no tenant schema was checked").isEqualTo(200);
            assertThat(hasV4(silo, first)).as("start did not migrate").isFalse();
            assertThat(hasV4(silo, second)).isFalse();

            // On the old schema the stored address is decomposed and this login would fail; it is migrated first.
            var login = login(http, first);
            assertThat(login.status()).as(login.body()).isEqualTo(200);
            assertThat(hasV4(silo, first)).isTrue();
            assertThat(storedEmail(silo, first)).isEqualTo(ZOE_NFC);
            String shipped = TenantSpares.shippedSchemaVersion().orElseThrow().getVersion();
            assertThat(recordedVersion(silo, first)).as("the catalog now says where the tenant is").isEqualTo(shipped);
            assertThat(recordedVersion(silo, second)).isEqualTo("3");
            assertThat(hasV4(silo, second)).as("only the tenant asked for").isFalse();

            // Once per node: the next request does not look at the schema again.
            forgetV4(silo, first);
            assertThat(login(http, first).status()).isEqualTo(200);
            assertThat(hasV4(silo, first)).isFalse();

            // The background checks, once let go, bring the other tenant up to date without a request.
            release.countDown();
            await().atMost(Duration.ofMinutes(2)).until(() -> hasV4(silo, second));
            assertThat(storedEmail(silo, second)).isEqualTo(ZOE_NFC);
        } finally {
            TenantSchemas.beforeChecks = () -> {};
            release.countDown();
        }
    }

    private static TestingHttp.Response login(TestingHttp http, Tenant tenant) {
        return http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"" + ZOE_NFC + "\",\"password\":\"" + PASSWORD + "\"}");
    }

    /** As a release before V4 left it: the address stored decomposed, V4 not in the history. */
    private static void rollBackV4(Silo silo, Tenant tenant) {
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            try (PreparedStatement update = connection.prepareStatement("UPDATE users SET email = ?, email_normalized = ?")) {
                update.setString(1, ZOE_NFD);
                update.setString(2, ZOE_NFD);
                update.executeUpdate();
            }
            return null;
        });
        forgetV4(silo, tenant);
        recordVersion(silo, tenant, "3"); // what the older release that made it would have recorded
    }

    private static void recordVersion(Silo silo, Tenant tenant, String version) {
        dev.silo.platform.db.Sql.withConnection(silo.core().catalog(), connection -> {
            try (PreparedStatement update = connection.prepareStatement("UPDATE tenants SET schema_version = ? WHERE id = ?")) {
                update.setString(1, version);
                update.setObject(2, tenant.id());
                return update.executeUpdate();
            }
        });
    }

    private static String recordedVersion(Silo silo, Tenant tenant) {
        return dev.silo.platform.db.Sql.withConnection(silo.core().catalog(), connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT schema_version FROM tenants WHERE id = ?")) {
                select.setObject(1, tenant.id());
                try (ResultSet rs = select.executeQuery()) {
                    rs.next();
                    return rs.getString(1);
                }
            }
        });
    }

    private static void forgetV4(Silo silo, Tenant tenant) {
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            try (PreparedStatement forget = connection.prepareStatement("DELETE FROM flyway_schema_history WHERE version::int >= 4")) {
                forget.executeUpdate();
            }
            return null;
        });
    }

    private static boolean hasV4(Silo silo, Tenant tenant) {
        return silo.core().tenantDatabases().withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT 1 FROM flyway_schema_history WHERE version = '4' AND success"); ResultSet rs = select.executeQuery()) {
                return rs.next();
            }
        });
    }

    private static String storedEmail(Silo silo, Tenant tenant) {
        return silo.core().tenantDatabases().withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT email_normalized FROM users");
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        });
    }
}

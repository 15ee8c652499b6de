package dev.silo.mail;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.db.TlsMaterial;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The outbox across a node's stop (issue 19.1): a mail whose send was cut by the stop is sent by the next node,
 * once; and a node without SMTP answers 503 {@code mail-not-configured} while admin-issued reset tokens still work.
 */
class MailOutboxRestartTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static TestingMailbox mailbox;
    private static TestingSmtpRelay relay;
    private static TlsMaterial material;
    private static Silo node;
    private static Tenant tenant;
    private static TestingHttp operator;

    @BeforeAll
    static void start() throws Exception {
        mailbox = new TestingMailbox();
        material = TlsMaterial.ensure(TestingSilo.newDataDir("mail-restart-ca"), "Mail test CA", List.of());
        relay = new TestingSmtpRelay(material, mailbox.port());
        Silo shared = TestingSilo.shared();
        operator = new TestingHttp(shared.baseUri()).withBearer(TestingSilo.operatorKey(shared));
        tenant = shared.tenants().create("mailrs-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
        var admin = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
    }

    @AfterAll
    static void stop() throws Exception {
        if (node != null) {
            node.close();
        }
        node = null;
        relay.close();
        mailbox.close();
    }

    private static Silo startNode(String name) {
        return TestingSilo.startOnSharedCatalog(name, Map.of(
                "SILO_SMTP_URL", "smtp://silo:secret@127.0.0.1:" + relay.port(),
                "SILO_SMTP_CA", material.caCertificate().toString(),
                "SILO_MAIL_RETRY_SECONDS", "1"));
    }

    @Test
    void aMailCutMidSendByAStopIsSentOnceByTheNextNode() {
        relay.mode(TestingSmtpRelay.Mode.HOLD); // the server accepts the connection and says nothing: the send hangs
        node = startNode("mail-before");
        int before = relay.connections();
        var answer = new TestingHttp(node.baseUri()).post("/t/" + tenant.slug() + "/auth/forgot-password",
                "{\"email\":\"admin@example.com\"}");
        assertThat(answer.status()).as(answer.body()).isEqualTo(202); // the request did not wait for the hung server
        await().atMost(Duration.ofSeconds(30)).until(() -> relay.connections() > before);
        node.close(); // mid-send: the worker's transaction rolls back, the row stays queued
        node = null;
        assertThat(rows("sent_at IS NULL")).isEqualTo(1);
        assertThat(mailbox.to("admin@example.com")).isEmpty();

        relay.mode(TestingSmtpRelay.Mode.RELAY);
        relay.dropAll();
        node = startNode("mail-after"); // its start sweep finds the row: no new request is needed
        TestingMailbox.Received mail = mailbox.await("admin@example.com", 1);
        assertThat(mail.messageId()).isEqualTo(messageId());
        await().atMost(Duration.ofSeconds(30)).until(() -> rows("sent_at IS NOT NULL") == 1);
        assertThat(rows("sent_at IS NULL")).isZero();
        assertThat(mailbox.to("admin@example.com")).hasSize(1);

        // The mailed token works.
        var reset = new TestingHttp(node.baseUri()).post("/t/" + tenant.slug() + "/auth/password-reset",
                "{\"token\":\"" + mail.token("spr_") + "\",\"new_password\":\"another horse battery staple\"}");
        assertThat(reset.status()).as(reset.body()).isEqualTo(204);
    }

    @Test
    void withoutSmtpTheMailRoutesAnswer503AndAdminIssuedResetTokensStillWork() {
        Silo shared = TestingSilo.shared();
        TestingHttp http = new TestingHttp(shared.baseUri());
        String base = "/t/" + tenant.slug();
        for (String route : List.of("/auth/forgot-password", "/auth/verify-email/resend")) {
            var refused = http.post(base + route, "{\"email\":\"admin@example.com\"}");
            assertThat(refused.status()).as(route).isEqualTo(503);
            assertThat(refused.json().get("type").asText()).endsWith("mail-not-configured");
        }
        var login = http.post(base + "/auth/login", "{\"email\":\"member@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).isEqualTo(401);
        String adminPassword = currentAdminPassword(http, base);
        TestingHttp admin = http.withBearer(http.post(base + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + adminPassword + "\"}").json().get("access_token").asText());
        var invite = admin.post(base + "/invitations", "{\"email\":\"friend@example.com\"}");
        assertThat(invite.status()).isEqualTo(503);
        var member = admin.post(base + "/users", "{\"email\":\"member@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(member.status()).as(member.body()).isEqualTo(201);
        String token = admin.post(base + "/users/" + member.json().get("id").asText() + "/password-reset", "")
                .json().get("reset_token").asText();
        var reset = http.post(base + "/auth/password-reset", "{\"token\":\"" + token + "\",\"new_password\":\"a third horse battery staple\"}");
        assertThat(reset.status()).as(reset.body()).isEqualTo(204);
        assertThat(mailbox.to("member@example.com")).isEmpty();
    }

    /** The admin's password: the other test of this class may have reset it. */
    private static String currentAdminPassword(TestingHttp http, String base) {
        var first = http.post(base + "/auth/login", "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        return first.status() == 200 ? PASSWORD : "another horse battery staple";
    }

    private static int rows(String condition) {
        return TestingSilo.shared().core().tenantDatabases().withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT count(*) FROM mail_outbox WHERE kind = 'password-reset' AND " + condition);
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        });
    }

    private static String messageId() {
        return TestingSilo.shared().core().tenantDatabases().withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT message_id FROM mail_outbox WHERE kind = 'password-reset'");
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        });
    }
}

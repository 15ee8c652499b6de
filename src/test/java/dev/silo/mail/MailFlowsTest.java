package dev.silo.mail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.config.MailConfig;
import dev.silo.platform.db.TlsMaterial;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The e-mail flows end to end (issue 19.1): one node whose mail goes over STARTTLS (a relay with a test CA's
 * certificate) to a real SMTP server in this JVM (GreenMail); each test reads the mail and follows its token.
 */
class MailFlowsTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String NEW_PASSWORD = "another horse battery staple";
    private static TestingMailbox mailbox;
    private static TestingSmtpRelay relay;
    private static TlsMaterial material;
    private static Silo silo;
    private static TestingHttp http;
    private static TestingHttp operator;
    private static Tenant acme;
    private static String adminEmail;

    @BeforeAll
    static void start() throws Exception {
        mailbox = new TestingMailbox();
        material = TlsMaterial.ensure(TestingSilo.newDataDir("mail-ca"), "Mail test CA", List.of());
        relay = new TestingSmtpRelay(material, mailbox.port());
        silo = TestingSilo.startOnSharedCatalog("mail", Map.of(
                "SILO_SMTP_URL", "smtp://silo:secret@127.0.0.1:" + relay.port(),
                "SILO_SMTP_CA", material.caCertificate().toString(),
                "SILO_MAIL_FROM", "no-reply@silo.test",
                "SILO_MAIL_RETRY_SECONDS", "1"));
        http = new TestingHttp(silo.baseUri());
        operator = http.withBearer(TestingSilo.operatorKey(TestingSilo.shared()));
        // A name with markup: the HTML part must show it, escaped, never as markup.
        acme = TestingSilo.shared().tenants().create("mail-" + UUID.randomUUID().toString().substring(0, 8), "Acme & <b>Co</b>", Optional.empty(),
                Actor.SYSTEM);
        adminEmail = "admin-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        var admin = operator.post("/admin/tenants/" + acme.slug() + "/admins",
                "{\"email\":\"" + adminEmail + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
    }

    @AfterAll
    static void stop() throws Exception {
        if (silo != null) {
            silo.close();
        }
        silo = null;
        relay.close();
        mailbox.close();
    }

    private static String path(String rest) {
        return "/t/" + acme.slug() + rest;
    }

    private static TestingHttp.Response login(String email, String password) {
        return http.post(path("/auth/login"), "{\"email\":\"" + email + "\",\"password\":\"" + password + "\"}");
    }

    private static TestingHttp as(String email, String password) {
        var response = login(email, password);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return http.withBearer(response.json().get("access_token").asText());
    }

    private static TestingHttp admin() {
        return as(adminEmail, PASSWORD);
    }

    private static String newMember() {
        String email = "m-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        var created = admin().post(path("/users"), "{\"email\":\"" + email + "\",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return email;
    }

    private static TestingHttp.Response patch(TestingHttp client, String path, String json) {
        return client.send(client.request(path).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(json)).build());
    }

    @Test
    void forgotPasswordMailsAOneTimeTokenOverStartTlsThatResetsThePassword() {
        String email = newMember();
        var answer = http.post(path("/auth/forgot-password"), "{\"email\":\"" + email + "\"}");
        assertThat(answer.status()).as(answer.body()).isEqualTo(202);

        TestingMailbox.Received mail = mailbox.await(email, 1);
        assertThat(relay.tlsUpgrades()).isPositive();
        assertThat(mail.from()).isEqualTo("no-reply@silo.test");
        assertThat(mail.subject()).isEqualTo("Reset your Acme & <b>Co</b> password");
        assertThat(mail.messageId()).matches("<[0-9a-f-]{36}@silo\\.test>");
        assertThat(mail.text()).contains("Acme & <b>Co</b>").contains(email);
        assertThat(mail.html()).contains("Acme &amp; &lt;b&gt;Co&lt;/b&gt;").doesNotContain("<b>Co</b>");
        String token = mail.token("spr_");

        var reset = http.post(path("/auth/password-reset"), "{\"token\":\"" + token + "\",\"new_password\":\"" + NEW_PASSWORD + "\"}");
        assertThat(reset.status()).as(reset.body()).isEqualTo(204);
        assertThat(login(email, PASSWORD).status()).isEqualTo(401);
        assertThat(login(email, NEW_PASSWORD).status()).isEqualTo(200);
        var again = http.post(path("/auth/password-reset"), "{\"token\":\"" + token + "\",\"new_password\":\"" + PASSWORD + "\"}");
        assertThat(again.status()).isEqualTo(400);
        assertThat(again.json().get("type").asText()).endsWith("invalid-reset-token");

        // The notice of the change, and the token is gone from the outbox once sent.
        TestingMailbox.Received notice = mailbox.awaitSubject(email, "password was changed");
        assertThat(notice.text()).contains("was changed");
        await().atMost(Duration.ofSeconds(30)).until(() -> outboxSecrets() == 0);
    }

    @Test
    void forgotPasswordAnswersTheSameForKnownAndUnknownAddressesAndMailsOnlyTheKnown() {
        String known = newMember();
        String unknown = "nobody-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        var forUnknown = http.post(path("/auth/forgot-password"), "{\"email\":\"" + unknown + "\"}");
        var forKnown = http.post(path("/auth/forgot-password"), "{\"email\":\"" + known + "\"}");
        assertThat(forUnknown.status()).isEqualTo(202);
        assertThat(forKnown.status()).isEqualTo(202);
        assertThat(forUnknown.body()).isEqualTo(forKnown.body());
        mailbox.await(known, 1);
        // The known address's mail was queued after the unknown one's request: had that queued one, it was sent first.
        assertThat(mailbox.to(unknown)).isEmpty();

        // A second request within the minute queues no second mail (no mailbox flooding), and still answers 202.
        assertThat(http.post(path("/auth/forgot-password"), "{\"email\":\"" + known + "\"}").status()).isEqualTo(202);
        String marker = newMember();
        http.post(path("/auth/forgot-password"), "{\"email\":\"" + marker + "\"}");
        mailbox.await(marker, 1);
        assertThat(mailbox.to(known)).hasSize(1);

        var malformed = http.post(path("/auth/forgot-password"), "{\"email\":\"not an address\"}");
        assertThat(malformed.status()).isEqualTo(400);
    }

    @Test
    void anInviteeSetsTheirPasswordWithTheMailedTokenOnce() {
        String invitee = "inv-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        var invited = admin().post(path("/invitations"), "{\"email\":\"" + invitee + "\",\"role\":\"member\"}");
        assertThat(invited.status()).as(invited.body()).isEqualTo(201);
        assertThat(invited.json().get("role").asText()).isEqualTo("member");
        assertThat(invited.body()).doesNotContain("sin_");

        TestingMailbox.Received mail = mailbox.await(invitee, 1);
        assertThat(mail.subject()).contains("invited");
        String token = mail.token("sin_");
        var accepted = http.post(path("/auth/accept-invitation"), "{\"token\":\"" + token + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(201);
        assertThat(accepted.json().get("email").asText()).isEqualTo(invitee);
        assertThat(accepted.json().get("role").asText()).isEqualTo("member");
        assertThat(as(invitee, PASSWORD).get(path("/me")).status()).isEqualTo(200);

        var again = http.post(path("/auth/accept-invitation"), "{\"token\":\"" + token + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(again.status()).isEqualTo(400);
        assertThat(again.json().get("type").asText()).endsWith("invalid-invitation-token");
        // A user has the address now: inviting it again is a conflict.
        assertThat(admin().post(path("/invitations"), "{\"email\":\"" + invitee + "\"}").status()).isEqualTo(409);
    }

    @Test
    void aRevokedInvitationsTokenNoLongerWorks() {
        String invitee = "rev-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        String id = admin().post(path("/invitations"), "{\"email\":\"" + invitee + "\"}").json().get("id").asText();
        String token = mailbox.await(invitee, 1).token("sin_");
        JsonNode pending = admin().get(path("/invitations")).json().get("invitations");
        assertThat(pending.findValuesAsText("id")).contains(id);
        assertThat(admin().delete(path("/invitations/" + id)).status()).isEqualTo(204);
        assertThat(admin().delete(path("/invitations/" + id)).status()).isEqualTo(404);
        assertThat(admin().get(path("/invitations")).json().get("invitations").findValuesAsText("id")).doesNotContain(id);
        var refused = http.post(path("/auth/accept-invitation"), "{\"token\":\"" + token + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(refused.status()).isEqualTo(400);
        assertThat(as(newMember(), PASSWORD).get(path("/invitations")).status()).isEqualTo(403);
    }

    @Test
    void aMemberCannotInvite() {
        String member = newMember();
        var refused = as(member, PASSWORD).post(path("/invitations"), "{\"email\":\"friend@example.com\",\"role\":\"admin\"}");
        assertThat(refused.status()).isEqualTo(403);
        assertThat(mailbox.to("friend@example.com")).isEmpty();
        assertThat(as(member, PASSWORD).get(path("/settings/mail")).status()).isEqualTo(403);
    }

    @Test
    void withVerifiedEmailRequiredAnUnverifiedUserCannotLogInUntilTheyFollowTheMailedToken() {
        // The admin is unverified: turning the rule on would lock them out, so it is refused until they verify.
        var refused = patch(admin(), path("/settings/mail"), "{\"require_verified_email\":true}");
        assertThat(refused.status()).as(refused.body()).isEqualTo(409);
        verify(adminEmail);
        var on = patch(admin(), path("/settings/mail"), "{\"require_verified_email\":true}");
        assertThat(on.status()).as(on.body()).isEqualTo(200);
        try {
            String member = newMember();
            var blocked = login(member, PASSWORD);
            assertThat(blocked.status()).isEqualTo(403);
            assertThat(blocked.json().get("type").asText()).endsWith("email-not-verified");
            assertThat(login(member, "a wrong password here").status()).isEqualTo(401); // the password is still checked first
            verify(member);
            assertThat(login(member, PASSWORD).status()).isEqualTo(200);
            // An invitee's address is verified by accepting the mailed invitation.
            String invitee = "inv-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
            assertThat(admin().post(path("/invitations"), "{\"email\":\"" + invitee + "\"}").status()).isEqualTo(201);
            String token = mailbox.await(invitee, 1).token("sin_");
            http.post(path("/auth/accept-invitation"), "{\"token\":\"" + token + "\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(login(invitee, PASSWORD).status()).isEqualTo(200);
        } finally {
            assertThat(patch(admin(), path("/settings/mail"), "{\"require_verified_email\":false}").status()).isEqualTo(200);
        }
    }

    private static void verify(String email) {
        int before = mailbox.to(email).size();
        assertThat(http.post(path("/auth/verify-email/resend"), "{\"email\":\"" + email + "\"}").status()).isEqualTo(202);
        TestingMailbox.Received mail = mailbox.await(email, before + 1);
        assertThat(mail.subject()).contains("Confirm");
        var verified = http.post(path("/auth/verify-email"), "{\"token\":\"" + mail.token("sev_") + "\"}");
        assertThat(verified.status()).as(verified.body()).isEqualTo(204);
        assertThat(http.post(path("/auth/verify-email"), "{\"token\":\"" + mail.token("sev_") + "\"}").status()).isEqualTo(400);
    }

    @Test
    void aTenantsSenderAndTemplatesApplyAndTheirValuesAreEscaped() {
        var set = patch(admin(), path("/settings/mail"), """
                {"mail_from": "hello@acme.test",
                 "templates": {"password-reset": {"subject": "Acme reset for {{email}}",
                   "text": "Token: {{token}} for {{tenant_name}}",
                   "html": "<p><a href=\\"https://app.acme.test/reset?token={{token}}\\">Reset</a> {{tenant_name}}</p>"}}}
                """);
        assertThat(set.status()).as(set.body()).isEqualTo(200);
        assertThat(set.json().get("effective_mail_from").asText()).isEqualTo("hello@acme.test");
        assertThat(set.json().get("templates").get("password-reset").get("custom").asBoolean()).isTrue();
        try {
            String email = newMember();
            http.post(path("/auth/forgot-password"), "{\"email\":\"" + email + "\"}");
            TestingMailbox.Received mail = mailbox.await(email, 1);
            assertThat(mail.from()).isEqualTo("hello@acme.test");
            assertThat(mail.subject()).isEqualTo("Acme reset for " + email);
            assertThat(mail.messageId()).endsWith("@acme.test>");
            String token = mail.token("spr_");
            assertThat(mail.html()).contains("https://app.acme.test/reset?token=" + token).contains("Acme &amp; &lt;b&gt;Co&lt;/b&gt;");

            var unknownPlaceholder = patch(admin(), path("/settings/mail"),
                    "{\"templates\":{\"invitation\":{\"subject\":\"x\",\"text\":\"{{password}}\",\"html\":\"x\"}}}");
            assertThat(unknownPlaceholder.status()).isEqualTo(400);
            assertThat(unknownPlaceholder.json().get("type").asText()).endsWith("invalid-template");
            assertThat(patch(admin(), path("/settings/mail"), "{\"mail_from\":\"Evil <x@y.z>\\r\\nBcc: a@b.c\"}").status()).isEqualTo(400);
            assertThat(patch(admin(), path("/settings/mail"), "{\"bogus\":1}").status()).isEqualTo(400);

            // An operator sets the sender too; the tenant's audit shows who did.
            var byOperator = patch(operator, "/admin/tenants/" + acme.slug() + "/mail", "{\"mail_from\":\"ops@acme.test\"}");
            assertThat(byOperator.status()).as(byOperator.body()).isEqualTo(200);
            assertThat(byOperator.json().get("mail_from").asText()).isEqualTo("ops@acme.test");
            assertThat(patch(operator, "/admin/tenants/" + acme.slug() + "/mail", "{\"require_verified_email\":true}").status())
                    .isEqualTo(400);
            JsonNode audit = admin().get(path("/audit?type=settings.mail.update")).json().get("entries");
            assertThat(audit.get(0).get("actor").asText()).startsWith("operator:");
        } finally {
            assertThat(patch(admin(), path("/settings/mail"), "{\"mail_from\":null,\"templates\":{\"password-reset\":null}}").status())
                    .isEqualTo(200);
        }
    }

    @Test
    void aServerThatRefusesMailForAWhileGetsItOnceItAccepts() {
        String email = newMember();
        relay.mode(TestingSmtpRelay.Mode.REFUSE);
        try {
            http.post(path("/auth/forgot-password"), "{\"email\":\"" + email + "\"}");
            await().atMost(Duration.ofSeconds(30)).until(() -> attempts(email) >= 2);
            assertThat(mailbox.to(email)).isEmpty();
        } finally {
            relay.mode(TestingSmtpRelay.Mode.RELAY);
        }
        TestingMailbox.Received mail = mailbox.await(email, 1);
        await().atMost(Duration.ofSeconds(30)).until(() -> sent(email));
        assertThat(mailbox.to(email)).hasSize(1).extracting(TestingMailbox.Received::messageId).containsExactly(mail.messageId());
    }

    @Test
    void startTlsIsRequiredByDefaultSoAServerWithoutItGetsNoMail() {
        MailConfig plain = MailConfig.from(Map.of("SILO_SMTP_URL", "smtp://silo:secret@127.0.0.1:" + mailbox.port()));
        MailSender sender = new MailSender(plain);
        String to = "plain-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        MailSender.Outgoing mail = new MailSender.Outgoing("no-reply@silo.test", to, "s", "t", "<p>h</p>",
                "<" + UUID.randomUUID() + "@silo.test>", Instant.now());
        try {
            sender.send(mail);
            throw new AssertionError("sent in clear");
        } catch (MailSender.SendFailure e) {
            assertThat(e.getMessage()).containsIgnoringCase("STARTTLS");
            assertThat(e.getMessage()).doesNotContain("secret");
        }
        assertThat(mailbox.to(to)).isEmpty();
    }

    private static int outboxSecrets() {
        return silo.core().tenantDatabases().withConnection(acme, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT count(*) FROM mail_outbox WHERE secret IS NOT NULL AND sent_at IS NOT NULL");
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        });
    }

    private static int attempts(String email) {
        return silo.core().tenantDatabases().withConnection(acme, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT COALESCE(max(attempts), 0) FROM mail_outbox WHERE recipient = ?")) {
                select.setString(1, email);
                try (ResultSet rs = select.executeQuery()) {
                    rs.next();
                    return rs.getInt(1);
                }
            }
        });
    }

    private static boolean sent(String email) {
        return silo.core().tenantDatabases().withConnection(acme, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT bool_and(sent_at IS NOT NULL) FROM mail_outbox WHERE recipient = ?")) {
                select.setString(1, email);
                try (ResultSet rs = select.executeQuery()) {
                    rs.next();
                    return rs.getBoolean(1);
                }
            }
        });
    }
}

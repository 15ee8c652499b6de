package dev.silo.auth.mfa;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.audit.TenantAudit;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingClock;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.apache.commons.codec.binary.Base32;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The TOTP second factor end to end over HTTP (issue 19.2): enrolment, the login's second step, replay, skew,
 * recovery codes, the throttle, an admin's reset, the tenant's requirement, and the secret at rest.
 *
 * <p>A node of its own on the shared catalog: its clock is moved to the start of a fresh 30-second step before each
 * code (so a code never straddles a step boundary), and its login throttle counts only this class's failures.
 */
class MfaTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final TestingClock CLOCK = new TestingClock();
    private static Silo silo;
    private static TestingHttp http;
    private static Tenant acme;
    private static Tenant globex;

    @BeforeAll
    static void start() {
        silo = TestingSilo.startOnSharedCatalog("mfa", Map.of(), CLOCK);
        http = new TestingHttp(silo.baseUri());
        acme = TestingSilo.shared().tenants().create(slug("mfa-acme"), "Acme & Co", Optional.empty(), Actor.SYSTEM);
        globex = TestingSilo.shared().tenants().create(slug("mfa-globex"), null, Optional.empty(), Actor.SYSTEM);
        for (Tenant tenant : new Tenant[] {acme, globex}) {
            silo.core().users().create(tenant, "admin@example.com", "admin", PASSWORD, TenantAudit.Context.SYSTEM);
        }
    }

    @AfterAll
    static void stop() {
        if (silo != null) {
            silo.close();
        }
        silo = null;
        http = null;
    }

    @AfterEach
    void resetClock() {
        CLOCK.reset();
    }

    private static String slug(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    // ---- helpers

    /** Moves the clock to one second into the next 30-second step: 29 seconds before the step turns. */
    private static long freshStep() {
        Instant now = CLOCK.instant();
        long into = Math.floorMod(now.getEpochSecond(), 30);
        CLOCK.advance(Duration.ofSeconds(31 - into).minusNanos(now.getNano()));
        return Totp.step(CLOCK.instant());
    }

    private static TestingHttp.Response login(Tenant tenant, String email) {
        return http.post("/t/" + tenant.slug() + "/auth/login", "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
    }

    private static JsonNode tokens(Tenant tenant, String email) {
        var response = login(tenant, email);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return response.json();
    }

    private static TestingHttp as(JsonNode tokens) {
        return http.withBearer(tokens.get("access_token").asText());
    }

    private static String newUser(Tenant tenant, String role) {
        String email = "u" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        silo.core().users().create(tenant, email, role, PASSWORD, TenantAudit.Context.SYSTEM);
        return email;
    }

    /** A user with a confirmed authenticator: its secret and its recovery codes. */
    private record Enrolled(String email, byte[] secret, List<String> recoveryCodes, JsonNode tokens) {}

    private static Enrolled enrolled(Tenant tenant, String role) {
        String email = newUser(tenant, role);
        JsonNode tokens = tokens(tenant, email);
        var setup = as(tokens).post("/t/" + tenant.slug() + "/me/mfa/totp", "");
        assertThat(setup.status()).as(setup.body()).isEqualTo(200);
        byte[] secret = new Base32().decode(setup.json().get("secret").asText());
        long step = freshStep();
        var confirmed = as(tokens).post("/t/" + tenant.slug() + "/me/mfa/totp/confirm", code(secret, step));
        assertThat(confirmed.status()).as(confirmed.body()).isEqualTo(200);
        List<String> codes = new ArrayList<>();
        confirmed.json().get("recovery_codes").forEach(c -> codes.add(c.asText()));
        return new Enrolled(email, secret, codes, tokens);
    }

    private static String code(byte[] secret, long step) {
        return "{\"code\":\"" + Totp.code(secret, step) + "\"}";
    }

    /** A login that stops at the second factor: its ticket. */
    private static String ticket(Tenant tenant, String email, String expectedType) {
        var response = login(tenant, email);
        assertThat(response.status()).as(response.body()).isEqualTo(401);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.json().get("type").asText()).isEqualTo("https://silo.dev/problems/" + expectedType);
        return response.json().get("ticket").asText();
    }

    private static TestingHttp.Response secondStep(Tenant tenant, String ticket, String field, String value) {
        return http.post("/t/" + tenant.slug() + "/auth/mfa", "{\"ticket\":\"" + ticket + "\",\"" + field + "\":\"" + value + "\"}");
    }

    private static String problemType(TestingHttp.Response response) {
        return response.json().get("type").asText().replace("https://silo.dev/problems/", "");
    }

    /** The tenant's audit entries of {@code type}, one line each: actor, subject and detail (a JSON object). */
    private static String audit(Tenant tenant, String type) {
        return audit(tenant, tokens(tenant, "admin@example.com"), type);
    }

    private static String audit(Tenant tenant, JsonNode admin, String type) {
        var audit = as(admin).get("/t/" + tenant.slug() + "/audit?type=" + type);
        assertThat(audit.status()).as(audit.body()).isEqualTo(200);
        StringBuilder lines = new StringBuilder();
        audit.json().get("entries").forEach(entry -> lines.append(entry.get("actor").asText()).append(' ')
                .append(entry.get("subject").asText()).append(' ').append(entry.get("detail").asText()).append('\n'));
        return lines.toString();
    }

    // ---- tests

    @Test
    void enrolConfirmThenLoginNeedsTheCodeAndGivesTokensAsALoginDoes() {
        String email = newUser(acme, "member");
        JsonNode tokens = tokens(acme, email);
        String me = "/t/" + acme.slug() + "/me/mfa";
        assertThat(as(tokens).get(me).json().get("totp").asText()).isEqualTo("off");

        var setup = as(tokens).post(me + "/totp", "");
        assertThat(setup.status()).as(setup.body()).isEqualTo(200);
        String secret = setup.json().get("secret").asText();
        assertThat(secret).matches("[A-Z2-7]{32}");
        assertThat(setup.json().get("otpauth_uri").asText()).isEqualTo("otpauth://totp/Acme%20%26%20Co:" + email.replace("@", "%40") + "?secret="
                + secret + "&issuer=Acme%20%26%20Co&algorithm=SHA1&digits=6&period=30");
        assertThat(setup.json().get("digits").asInt()).isEqualTo(6);
        assertThat(setup.json().get("period").asInt()).isEqualTo(30);
        assertThat(as(tokens).get(me).json().get("totp").asText()).isEqualTo("pending");
        // Pending: the login still needs no second factor.
        assertThat(login(acme, email).status()).isEqualTo(200);

        byte[] raw = new Base32().decode(secret);
        long step = freshStep();
        var wrong = as(tokens).post(me + "/totp/confirm", code(raw, step + 5));
        assertThat(wrong.status()).isEqualTo(400);
        assertThat(problemType(wrong)).isEqualTo("invalid-mfa-code");
        var confirmed = as(tokens).post(me + "/totp/confirm", code(raw, step));
        assertThat(confirmed.status()).as(confirmed.body()).isEqualTo(200);
        assertThat(confirmed.json().get("recovery_codes")).hasSize(10);
        JsonNode status = as(tokens).get(me).json();
        assertThat(status.get("totp").asText()).isEqualTo("on");
        assertThat(status.get("recovery_codes_left").asInt()).isEqualTo(10);
        assertThat(status.get("enabled_at").asText()).isNotEmpty();
        // Enrolling again needs the current one disabled first.
        assertThat(problemType(as(tokens).post(me + "/totp", ""))).isEqualTo("mfa-already-enrolled");

        var challenged = login(acme, email);
        assertThat(challenged.status()).isEqualTo(401);
        assertThat(challenged.header("WWW-Authenticate")).startsWith("Bearer");
        JsonNode problem = challenged.json();
        assertThat(problem.get("type").asText()).isEqualTo("https://silo.dev/problems/mfa-required");
        assertThat(problem.get("ticket").asText()).startsWith("silo_mt_");
        assertThat(problem.get("expires_in").asInt()).isEqualTo(300);
        assertThat(problem.has("access_token")).isFalse();
        String ticket = problem.get("ticket").asText();
        // Counted as its own login outcome: the password was right, the second step is due.
        var metrics = http.withBearer(TestingSilo.operatorKey(TestingSilo.shared())).get("/metrics");
        assertThat(metrics.status()).isEqualTo(200);
        assertThat(metrics.body()).containsPattern("silo_logins_total\\{[^}]*outcome=\"mfa-required\"[^}]*\\} [1-9]");

        step = freshStep();
        var passed = secondStep(acme, ticket, "code", Totp.code(raw, step));
        assertThat(passed.status()).as(passed.body()).isEqualTo(200);
        JsonNode issued = passed.json();
        assertThat(issued.get("token_type").asText()).isEqualTo("Bearer");
        assertThat(issued.get("refresh_token").asText()).startsWith("srt_");
        assertThat(issued.get("expires_in").asLong()).isPositive();
        assertThat(issued.has("recovery_codes")).isFalse();
        assertThat(as(issued).get("/t/" + acme.slug() + "/me").json().get("email").asText()).isEqualTo(email);
        var refreshed = http.post("/t/" + acme.slug() + "/auth/refresh",
                "{\"refresh_token\":\"" + issued.get("refresh_token").asText() + "\"}");
        assertThat(refreshed.status()).as(refreshed.body()).isEqualTo(200);

        // The ticket is spent: not even the next code opens it again.
        var again = secondStep(acme, ticket, "code", Totp.code(raw, step + 1));
        assertThat(again.status()).isEqualTo(401);
        assertThat(problemType(again)).isEqualTo("invalid-mfa-ticket");
        assertThat(audit(acme, "login.success")).contains("\"mfa\":\"totp\"");
        assertThat(audit(acme, "mfa.totp.enrol")).contains("\"recovery_codes\":10");
    }

    @Test
    void aCodeIsAcceptedOnceAndOneStepOfSkewEachWay() {
        Enrolled user = enrolled(acme, "member");
        long step = freshStep();
        // The step the confirmation used (the one before) is spent; one behind the current one is not, if unused.
        var behind = secondStep(acme, ticket(acme, user.email(), "mfa-required"), "code", Totp.code(user.secret(), step - 1));
        assertThat(behind.status()).as(behind.body()).isEqualTo(401);
        assertThat(problemType(behind)).isEqualTo("invalid-mfa-code"); // step - 1 confirmed the enrolment: a replay

        step = freshStep();
        String ticket = ticket(acme, user.email(), "mfa-required");
        assertThat(secondStep(acme, ticket, "code", Totp.code(user.secret(), step - 1)).status()).isEqualTo(200);
        // Replay: the same code again, with a new ticket.
        ticket = ticket(acme, user.email(), "mfa-required");
        var replay = secondStep(acme, ticket, "code", Totp.code(user.secret(), step - 1));
        assertThat(replay.status()).isEqualTo(401);
        assertThat(problemType(replay)).isEqualTo("invalid-mfa-code");
        // Two steps away either way is too far; one ahead is fine (a phone clock a little fast).
        assertThat(secondStep(acme, ticket, "code", Totp.code(user.secret(), step - 2)).status()).isEqualTo(401);
        assertThat(secondStep(acme, ticket, "code", Totp.code(user.secret(), step + 2)).status()).isEqualTo(401);
        assertThat(secondStep(acme, ticket, "code", Totp.code(user.secret(), step + 1)).status()).isEqualTo(200);
        // And after a code of step + 1, the current step's code is a replay too: steps only move forward.
        var older = secondStep(acme, ticket(acme, user.email(), "mfa-required"), "code", Totp.code(user.secret(), step));
        assertThat(older.status()).isEqualTo(401);
        assertThat(audit(acme, "mfa.failure")).contains("replayed-code").contains("wrong-code");
    }

    @Test
    void aRecoveryCodeWorksOnceWhateverItsDashesAndCase() {
        Enrolled user = enrolled(acme, "member");
        String code = user.recoveryCodes().get(3);
        String ticket = ticket(acme, user.email(), "mfa-required");
        var wrong = secondStep(acme, ticket, "recovery_code", "AAAA-BBBB-CCCC-DDDD");
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(problemType(wrong)).isEqualTo("invalid-mfa-code");
        var passed = secondStep(acme, ticket, "recovery_code", code.toLowerCase().replace("-", " "));
        assertThat(passed.status()).as(passed.body()).isEqualTo(200);
        JsonNode status = as(passed.json()).get("/t/" + acme.slug() + "/me/mfa").json();
        assertThat(status.get("recovery_codes_left").asInt()).isEqualTo(9);

        var twice = secondStep(acme, ticket(acme, user.email(), "mfa-required"), "recovery_code", code);
        assertThat(twice.status()).isEqualTo(401);
        assertThat(problemType(twice)).isEqualTo("invalid-mfa-code");
        // Another one of the ten still works; a code of another user's does not.
        Enrolled other = enrolled(acme, "member");
        assertThat(secondStep(acme, ticket(acme, user.email(), "mfa-required"), "recovery_code", other.recoveryCodes().get(0))
                .status()).isEqualTo(401);
        assertThat(secondStep(acme, ticket(acme, user.email(), "mfa-required"), "recovery_code", user.recoveryCodes().get(0))
                .status()).isEqualTo(200);
        assertThat(audit(acme, "mfa.recovery-code.use")).contains("\"left\":8");

        // New codes (proven by a current code) replace the old ones.
        JsonNode tokens = passed.json();
        var fresh = as(tokens).post("/t/" + acme.slug() + "/me/mfa/recovery-codes", code(user.secret(), freshStep()));
        assertThat(fresh.status()).as(fresh.body()).isEqualTo(200);
        assertThat(fresh.json().get("recovery_codes")).hasSize(10);
        assertThat(secondStep(acme, ticket(acme, user.email(), "mfa-required"), "recovery_code", user.recoveryCodes().get(5))
                .status()).isEqualTo(401);
        assertThat(secondStep(acme, ticket(acme, user.email(), "mfa-required"), "recovery_code",
                fresh.json().get("recovery_codes").get(0).asText()).status()).isEqualTo(200);
    }

    @Test
    void failedCodesCountTowardTheLoginThrottleAndTheRightPasswordDoesNotResetIt() {
        Enrolled user = enrolled(globex, "member");
        long step = freshStep();
        // Four wrong codes, each on a fresh ticket (a login with the right password) ...
        for (int i = 0; i < 4; i++) {
            var wrong = secondStep(globex, ticket(globex, user.email(), "mfa-required"), "code", Totp.code(user.secret(), step + 7 + i));
            assertThat(wrong.status()).as(wrong.body()).isEqualTo(401);
        }
        // ... the fifth failure locks the account, as five wrong passwords do.
        String ticket = ticket(globex, user.email(), "mfa-required");
        assertThat(secondStep(globex, ticket, "code", "000000").status()).isIn(401);
        var locked = secondStep(globex, ticket, "code", Totp.code(user.secret(), step));
        assertThat(locked.status()).as(locked.body()).isEqualTo(429);
        assertThat(problemType(locked)).isEqualTo("login-throttled");
        assertThat(locked.header("Retry-After")).isNotNull();
        assertThat(login(globex, user.email()).status()).isEqualTo(429);
        assertThat(audit(globex, "login.lockout")).contains("\"scope\":\"account\"");
        assertThat(audit(globex, "mfa.failure")).contains("wrong-code");
    }

    @Test
    void anAdminResetsAUsersMfaAuditedAndAMemberCannot() {
        Enrolled user = enrolled(acme, "member");
        JsonNode admin = tokens(acme, "admin@example.com");
        String userId = as(user.tokens()).get("/t/" + acme.slug() + "/me").json().get("id").asText();
        String path = "/t/" + acme.slug() + "/users/" + userId + "/mfa";

        Enrolled member = enrolled(acme, "member");
        var refused = as(member.tokens()).delete(path);
        assertThat(refused.status()).isEqualTo(403);
        assertThat(as(member.tokens()).get(path).status()).isEqualTo(403);
        assertThat(as(admin).get(path).json().get("totp").asText()).isEqualTo("on");

        var reset = as(admin).delete(path);
        assertThat(reset.status()).as(reset.body()).isEqualTo(204);
        assertThat(as(admin).get(path).json().get("totp").asText()).isEqualTo("off");
        assertThat(as(admin).get(path).json().get("recovery_codes_left").asInt()).isZero();
        assertThat(audit(acme, "mfa.reset")).contains("user:").contains(userId).contains("\"had_totp\":true");
        // The user logs in with the password alone again; a made-up user is a 404.
        assertThat(login(acme, user.email()).status()).isEqualTo(200);
        assertThat(as(admin).delete("/t/" + acme.slug() + "/users/" + UUID.randomUUID() + "/mfa").status()).isEqualTo(404);
        // An admin of another tenant cannot reach this one's users.
        JsonNode otherAdmin = tokens(globex, "admin@example.com");
        assertThat(as(otherAdmin).delete(path).status()).isEqualTo(401);
    }

    @Test
    void theSecretIsStoredSealedAndASealedSecretCopiedToAnotherUserDoesNotOpen() {
        Enrolled user = enrolled(acme, "member");
        Enrolled victim = enrolled(acme, "member");
        String base32 = Totp.base32(user.secret());
        record Row(UUID userId, byte[] sealed, String dump) {}
        List<Row> rows = silo.core().tenantDatabases().withConnection(acme, connection -> {
            List<Row> found = new ArrayList<>();
            try (var select = connection.prepareStatement("SELECT t.user_id, t.secret_sealed, t::text FROM mfa_totp t "
                    + "JOIN users u ON u.id = t.user_id WHERE u.email_normalized IN (?, ?)")) {
                select.setString(1, user.email());
                select.setString(2, victim.email());
                try (var rs = select.executeQuery()) {
                    while (rs.next()) {
                        found.add(new Row(rs.getObject(1, UUID.class), rs.getBytes(2), rs.getString(3)));
                    }
                }
            }
            return found;
        });
        assertThat(rows).hasSize(2);
        for (Row row : rows) {
            String asLatin1 = new String(row.sealed(), StandardCharsets.ISO_8859_1);
            assertThat(asLatin1).doesNotContain(new String(user.secret(), StandardCharsets.ISO_8859_1)).doesNotContain(base32);
            assertThat(row.dump()).doesNotContainIgnoringCase(base32);
            assertThat(row.sealed().length).isGreaterThan(user.secret().length + 16); // nonce and tag around it
        }
        String codes = silo.core().tenantDatabases().withConnection(acme, connection -> {
            StringBuilder all = new StringBuilder();
            try (var select = connection.prepareStatement("SELECT r::text FROM mfa_recovery_codes r")) {
                try (var rs = select.executeQuery()) {
                    while (rs.next()) {
                        all.append(rs.getString(1)).append('\n');
                    }
                }
            }
            return all.toString();
        });
        for (String code : user.recoveryCodes()) {
            assertThat(codes).doesNotContain(code).doesNotContain(code.replace("-", ""));
        }

        // Attack: copy the user's sealed secret (whose codes the attacker knows) over the victim's row.
        Row mine = rows.stream().filter(r -> !r.dump().contains(victimId(victim))).findFirst().orElseThrow();
        silo.core().tenantDatabases().inTransaction(acme, connection -> {
            try (var update = connection.prepareStatement("UPDATE mfa_totp SET secret_sealed = ? WHERE user_id = ?")) {
                update.setBytes(1, mine.sealed());
                update.setObject(2, UUID.fromString(victimId(victim)));
                update.executeUpdate();
            }
            return null;
        });
        var refused = secondStep(acme, ticket(acme, victim.email(), "mfa-required"), "code", Totp.code(user.secret(), freshStep()));
        assertThat(refused.status()).isEqualTo(409);
        assertThat(problemType(refused)).isEqualTo("integrity-error");
    }

    private static String victimId(Enrolled victim) {
        return as(victim.tokens()).get("/t/" + acme.slug() + "/me").json().get("id").asText();
    }

    @Test
    void disablingNeedsACurrentCodeOrThePassword() {
        Enrolled user = enrolled(globex, "member");
        String path = "/t/" + globex.slug() + "/me/mfa/totp/disable";
        var wrongPassword = as(user.tokens()).post(path, "{\"password\":\"not it at all\"}");
        assertThat(wrongPassword.status()).isEqualTo(400);
        assertThat(problemType(wrongPassword)).isEqualTo("wrong-password");
        var wrongCode = as(user.tokens()).post(path, code(user.secret(), freshStep() + 9));
        assertThat(wrongCode.status()).isEqualTo(400);
        assertThat(problemType(wrongCode)).isEqualTo("invalid-mfa-code");
        assertThat(as(user.tokens()).post(path, "{}").status()).isEqualTo(400);
        var disabled = as(user.tokens()).post(path, code(user.secret(), freshStep()));
        assertThat(disabled.status()).as(disabled.body()).isEqualTo(204);
        assertThat(login(globex, user.email()).status()).isEqualTo(200);
        assertThat(problemType(as(user.tokens()).post(path, "{\"password\":\"" + PASSWORD + "\"}"))).isEqualTo("mfa-not-enrolled");

        // Enrolled again, disabled with the password this time.
        var setup = as(user.tokens()).post("/t/" + globex.slug() + "/me/mfa/totp", "");
        byte[] secret = new Base32().decode(setup.json().get("secret").asText());
        assertThat(as(user.tokens()).post("/t/" + globex.slug() + "/me/mfa/totp/confirm", code(secret, freshStep())).status())
                .isEqualTo(200);
        assertThat(login(globex, user.email()).status()).isEqualTo(401);
        assertThat(as(user.tokens()).post(path, "{\"password\":\"" + PASSWORD + "\"}").status()).isEqualTo(204);
        assertThat(audit(globex, "mfa.totp.disable")).contains("\"proof\":\"code\"").contains("\"proof\":\"password\"");
    }

    @Test
    void aTenantCanRequireMfaAndAUserWithoutOneEnrolsBeforeGettingAnyToken() {
        Tenant tenant = TestingSilo.shared().tenants().create(slug("mfa-req"), null, Optional.empty(), Actor.SYSTEM);
        silo.core().users().create(tenant, "admin@example.com", "admin", PASSWORD, TenantAudit.Context.SYSTEM);
        String member = newUser(tenant, "member");
        JsonNode admin = tokens(tenant, "admin@example.com");
        JsonNode memberTokens = tokens(tenant, member);
        String settings = "/t/" + tenant.slug() + "/settings/mfa";
        assertThat(as(admin).get(settings).json().get("required").asText()).isEqualTo("none");
        assertThat(as(memberTokens).send(put(memberTokens, settings, "{\"required\":\"everyone\"}")).status()).isEqualTo(403);
        assertThat(as(memberTokens).get(settings).status()).isEqualTo(403);
        var invalid = http.send(put(admin, settings, "{\"required\":\"sometimes\"}"));
        assertThat(invalid.status()).isEqualTo(400);
        assertThat(problemType(invalid)).isEqualTo("invalid-mfa-policy");
        var set = http.send(put(admin, settings, "{\"required\":\"admins\"}"));
        assertThat(set.status()).as(set.body()).isEqualTo(200);
        assertThat(set.json().get("required").asText()).isEqualTo("admins");
        // Sessions already open stay open.
        assertThat(as(admin).get("/t/" + tenant.slug() + "/me").status()).isEqualTo(200);

        // A member is not concerned; the admin must enrol before any token.
        assertThat(login(tenant, member).status()).isEqualTo(200);
        var challenged = login(tenant, "admin@example.com");
        assertThat(challenged.status()).isEqualTo(401);
        assertThat(problemType(challenged)).isEqualTo("mfa-enrolment-required");
        assertThat(challenged.json().get("expires_in").asInt()).isEqualTo(600);
        String ticket = challenged.json().get("ticket").asText();
        // The enrolment ticket opens nothing else: not the API, not a second step without a secret.
        assertThat(http.withBearer(ticket).get("/t/" + tenant.slug() + "/me").status()).isEqualTo(401);
        assertThat(problemType(secondStep(tenant, ticket, "code", "123456"))).isEqualTo("mfa-enrolment-not-started");
        var setup = http.post("/t/" + tenant.slug() + "/auth/mfa/totp", "{\"ticket\":\"" + ticket + "\"}");
        assertThat(setup.status()).as(setup.body()).isEqualTo(200);
        assertThat(setup.json().get("otpauth_uri").asText()).startsWith("otpauth://totp/" + tenant.slug() + ":admin%40example.com?");
        byte[] secret = new Base32().decode(setup.json().get("secret").asText());
        long step = freshStep();
        var wrong = secondStep(tenant, ticket, "code", Totp.code(secret, step + 4));
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(problemType(wrong)).isEqualTo("invalid-mfa-code");
        var enrolled = secondStep(tenant, ticket, "code", Totp.code(secret, step));
        assertThat(enrolled.status()).as(enrolled.body()).isEqualTo(200);
        assertThat(enrolled.json().get("access_token").asText()).isNotEmpty();
        assertThat(enrolled.json().get("recovery_codes")).hasSize(10);
        assertThat(as(enrolled.json()).get("/t/" + tenant.slug() + "/me/mfa").json().get("required").asBoolean()).isTrue();
        // Spent: the ticket does not enrol again; the next login asks for a code as for any enrolled user.
        assertThat(problemType(http.post("/t/" + tenant.slug() + "/auth/mfa/totp", "{\"ticket\":\"" + ticket + "\"}")))
                .isEqualTo("invalid-mfa-ticket");
        String verify = ticket(tenant, "admin@example.com", "mfa-required");
        // A verify ticket is not an enrolment ticket.
        assertThat(problemType(http.post("/t/" + tenant.slug() + "/auth/mfa/totp", "{\"ticket\":\"" + verify + "\"}")))
                .isEqualTo("invalid-mfa-ticket");

        // Everyone: now the member too.
        assertThat(http.send(put(enrolled.json(), settings, "{\"required\":\"everyone\"}")).status()).isEqualTo(200);
        ticket(tenant, member, "mfa-enrolment-required");
        assertThat(audit(tenant, enrolled.json(), "settings.mfa.update")).contains("\"required\":\"admins\"").contains("\"required\":\"everyone\"");
        // A ticket of this tenant opens nothing in another one.
        var elsewhere = secondStep(globex, verify, "code", Totp.code(secret, step + 1));
        assertThat(problemType(elsewhere)).isEqualTo("invalid-mfa-ticket");
    }

    @Test
    void aMalformedSecondStepIsA400AndAMadeUpTicketA401() {
        String path = "/t/" + acme.slug() + "/auth/mfa";
        assertThat(problemType(http.post(path, "{}"))).isEqualTo("invalid-request");
        assertThat(problemType(http.post(path, "{\"ticket\":\"x\",\"code\":\"1\",\"recovery_code\":\"2\"}"))).isEqualTo("invalid-request");
        assertThat(http.post(path, "{\"ticket\":\"x\",\"code\":\"123456\",\"extra\":1}").status()).isEqualTo(400);
        assertThat(http.post(path, "not json").status()).isIn(400, 415);
        var madeUp = secondStep(acme, "silo_mt_" + "A".repeat(43), "code", "123456");
        assertThat(madeUp.status()).isEqualTo(401);
        assertThat(problemType(madeUp)).isEqualTo("invalid-mfa-ticket");
        assertThat(problemType(secondStep(acme, "garbage", "code", "123456"))).isEqualTo("invalid-mfa-ticket");
        // The self-service routes need a token.
        assertThat(http.post("/t/" + acme.slug() + "/me/mfa/totp", "").status()).isEqualTo(401);
    }

    private static HttpRequest put(JsonNode tokens, String path, String json) {
        return as(tokens).request(path).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json)).build();
    }
}

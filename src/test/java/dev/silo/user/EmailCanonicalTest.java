package dev.silo.user;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.audit.TenantAudit;
import dev.silo.platform.problem.BadRequest;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.text.Normalizer;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** E-mails have one canonical form (issue 10.5) and malformed ones are a 400, never a 500 (issue 11.7). */
class EmailCanonicalTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String ZOE_NFC = "zo\u00eb@example.com";
    private static final String ZOE_NFD = "zoe\u0308@example.com";
    private static Silo silo;
    private static TestingHttp http;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
    }

    private static Tenant newTenant(String prefix) {
        return silo.tenants().create(prefix + "-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
    }

    /** A JSON string literal, every non-ASCII or control character escaped as {@code \\uXXXX}. */
    private static String json(String value) {
        StringBuilder out = new StringBuilder("\"");
        value.chars().forEach(c -> out.append(c < 0x20 || c > 0x7e || c == '"' || c == '\\' ? String.format("\\u%04x", c) : String.valueOf((char) c)));
        return out.append('"').toString();
    }

    private static TestingHttp.Response login(Tenant tenant, String email) {
        return http.post("/t/" + tenant.slug() + "/auth/login", "{\"email\":" + json(email) + ",\"password\":\"" + PASSWORD + "\"}");
    }

    private static TestingHttp admin(Tenant tenant) {
        silo.core().users().create(tenant, "admin@example.com", "admin", PASSWORD, TenantAudit.Context.SYSTEM);
        var response = login(tenant, "admin@example.com");
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return http.withBearer(response.json().get("access_token").asText());
    }

    private static TestingHttp.Response createUser(TestingHttp admin, Tenant tenant, String email) {
        return admin.post("/t/" + tenant.slug() + "/users",
                "{\"email\":" + json(email) + ",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}");
    }

    @Test
    void composedAndDecomposedSpellingsOfAnAddressAreOneAccount() {
        assertThat(ZOE_NFC).isNotEqualTo(ZOE_NFD);
        Tenant tenant = newTenant("nfc");
        TestingHttp admin = admin(tenant);
        var created = createUser(admin, tenant, ZOE_NFD);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().get("email").asText()).isEqualTo(ZOE_NFC); // shown composed

        var other = login(tenant, ZOE_NFC);
        assertThat(other.status()).as(other.body()).isEqualTo(200);
        var same = login(tenant, "  ZOE\u0308@Example.COM ");
        assertThat(same.status()).as(same.body()).isEqualTo(200);

        var duplicate = createUser(admin, tenant, ZOE_NFC);
        assertThat(duplicate.status()).as(duplicate.body()).isEqualTo(409);
        assertThat(duplicate.json().get("type").asText()).endsWith("/email-taken");
    }

    @Test
    void canonicalFormIsNfcLowerCasedWithTheRootLocale() {
        assertThat(UserService.normalizeEmail(" Zo\u00cb@Example.com ")).isEqualTo(ZOE_NFC);
        assertThat(UserService.normalizeEmail("ZOE\u0308@EXAMPLE.COM")).isEqualTo(ZOE_NFC);
        // Unicode's default lower case of U+0130 is "i" + U+0307, whatever the machine's locale; it is not "ilker".
        Locale before = Locale.getDefault();
        try {
            Locale.setDefault(Locale.forLanguageTag("tr-TR"));
            assertThat(UserService.normalizeEmail("ILKER@X.COM")).isEqualTo("ilker@x.com");
            assertThat(UserService.normalizeEmail("\u0130lker@x.com")).isEqualTo("i\u0307lker@x.com")
                    .isEqualTo(UserService.normalizeEmail("i\u0307lker@x.com"))
                    .isNotEqualTo(UserService.normalizeEmail("ilker@x.com"));
        } finally {
            Locale.setDefault(before);
        }
        String canonical = UserService.normalizeEmail("\u00c5ngstr\u00f6m@x.com");
        assertThat(Normalizer.isNormalized(canonical, Normalizer.Form.NFC)).isTrue();
    }

    @Test
    void controlAndInvisibleCharactersInAnEmailAreA400AtCreationAndLogin() {
        Tenant tenant = newTenant("ctrl");
        TestingHttp admin = admin(tenant);
        for (String bad : new String[] {"a\u0000b@example.com", "nul@example.com\u0000", "bell\u0007@example.com",
                "esc\u001b@example.com", "zero\u200bwidth@example.com", "nb\u00a0sp@example.com", "line\u2028sep@example.com",
                "bom\ufeff@example.com", "del\u007f@example.com"}) {
            var created = createUser(admin, tenant, bad);
            assertThat(created.status()).as(created.body()).isEqualTo(400);
            assertThat(created.contentType()).isEqualTo("application/problem+json");
            assertThat(created.json().get("type").asText()).endsWith("/invalid-email");
            assertThat(created.json().has("request_id")).isTrue();

            var login = login(tenant, bad);
            assertThat(login.status()).as(login.body()).isEqualTo(400);
            assertThat(login.contentType()).isEqualTo("application/problem+json");
            // the same answer for every malformed address: nothing about accounts
            assertThat(login.json().get("type").asText()).endsWith("/invalid-request");
        }
        var operatorRoute = http.withBearer(TestingSilo.operatorKey(silo)).post("/admin/tenants/" + newTenant("ctrlop").slug()
                + "/admins", "{\"email\":" + json("a\u0000b@example.com") + ",\"password\":\"" + PASSWORD + "\"}");
        assertThat(operatorRoute.status()).as(operatorRoute.body()).isEqualTo(400);
        assertThatThrownBy(() -> UserService.normalizeEmail("a\u0000b@example.com")).isInstanceOf(BadRequest.class);
    }

    @Test
    void theMigrationComposesStoredEmailsAndDisablesTheLookAlikeOfAnExistingAccount() {
        Tenant tenant = newTenant("v4");
        User older = silo.core().users().create(tenant, "older@example.com", "member", PASSWORD, TenantAudit.Context.SYSTEM);
        User newer = silo.core().users().create(tenant, "newer@example.com", "member", PASSWORD, TenantAudit.Context.SYSTEM);
        User andre = silo.core().users().create(tenant, "andre@example.com", "member", PASSWORD, TenantAudit.Context.SYSTEM);
        UUID session = UUID.randomUUID();
        // As a release without NFC stored them: the older account decomposed, the newer composed, both "zoë".
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            setEmail(connection, older.id(), ZOE_NFD);
            setEmail(connection, newer.id(), ZOE_NFC);
            setEmail(connection, andre.id(), "andre\u0301@example.com");
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")) {
                insert.setObject(1, session);
                insert.setObject(2, older.id());
                insert.setTimestamp(3, Timestamp.from(Instant.now()));
                insert.setTimestamp(4, Timestamp.from(Instant.now().plusSeconds(3600)));
                insert.executeUpdate();
            }
            try (PreparedStatement forget = connection.prepareStatement("DELETE FROM flyway_schema_history WHERE version::int >= 4")) {
                forget.executeUpdate();
            }
            return null;
        });
        silo.tenants().migrate(tenant);

        record Row(String email, String normalized, boolean disabled) {}
        var rows = silo.core().tenantDatabases().withConnection(tenant, connection -> {
            var map = new java.util.HashMap<UUID, Row>();
            try (PreparedStatement select = connection.prepareStatement("SELECT id, email, email_normalized, disabled FROM users");
                 ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    map.put(rs.getObject(1, UUID.class), new Row(rs.getString(2), rs.getString(3), rs.getBoolean(4)));
                }
            }
            try (PreparedStatement select = connection.prepareStatement("SELECT revoked_at IS NOT NULL FROM sessions WHERE id = ?")) {
                select.setObject(1, session);
                try (ResultSet rs = select.executeQuery()) {
                    rs.next();
                    assertThat(rs.getBoolean(1)).as("the look-alike's session is ended").isTrue();
                }
            }
            return map;
        });
        assertThat(rows.get(newer.id())).isEqualTo(new Row(ZOE_NFC, ZOE_NFC, false)); // already composed: keeps it
        assertThat(rows.get(older.id()).disabled()).isTrue();                     // the look-alike, kept but disabled
        assertThat(rows.get(older.id()).normalized()).isEqualTo(ZOE_NFD);
        assertThat(rows.get(andre.id())).isEqualTo(new Row("andr\u00e9@example.com", "andr\u00e9@example.com", false));

        assertThat(login(tenant, ZOE_NFD).status()).isEqualTo(200);   // reaches the newer account
        assertThat(login(tenant, "andre\u0301@example.com").status()).isEqualTo(200);
        assertThat(login(tenant, "andr\u00e9@example.com").status()).isEqualTo(200);
    }

    private static void setEmail(java.sql.Connection connection, UUID id, String email) throws java.sql.SQLException {
        try (PreparedStatement update = connection.prepareStatement("UPDATE users SET email = ?, email_normalized = ? WHERE id = ?")) {
            update.setString(1, email);
            update.setString(2, email);
            update.setObject(3, id);
            update.executeUpdate();
        }
    }
}

package dev.silo.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Token introspection (RFC 7662) for a tenant's own services, and their credentials (issue 19.4). */
class IntrospectionTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static Silo silo;
    private static TestingHttp http;
    private static Tenant acme;
    private static Tenant globex;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        acme = silo.tenants().create(slug("intro-acme"), null, Optional.empty(), Actor.SYSTEM);
        globex = silo.tenants().create(slug("intro-globex"), null, Optional.empty(), Actor.SYSTEM);
        TestingHttp operator = http.withBearer(TestingSilo.operatorKey(silo));
        for (Tenant tenant : new Tenant[] {acme, globex}) {
            var admin = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                    "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        }
    }

    private static String slug(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static JsonNode login(Tenant tenant, String email) {
        var response = http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return response.json();
    }

    private static TestingHttp as(JsonNode tokens) {
        return http.withBearer(tokens.get("access_token").asText());
    }

    private static String access(JsonNode tokens) {
        return tokens.get("access_token").asText();
    }

    private static String newMember(Tenant tenant) {
        String email = "u" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        var created = as(login(tenant, "admin@example.com")).post("/t/" + tenant.slug() + "/users",
                "{\"email\":\"" + email + "\",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return email;
    }

    private static JsonNode newCredential(Tenant tenant) {
        var created = as(login(tenant, "admin@example.com")).post("/t/" + tenant.slug() + "/service-credentials",
                "{\"name\":\"billing service\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created.json();
    }

    private static TestingHttp.Response introspect(Tenant tenant, String credential, String contentType, String body) {
        HttpRequest.Builder request = http.request("/t/" + tenant.slug() + "/auth/introspect")
                .header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (credential != null) {
            request.header("Authorization", "Bearer " + credential);
        }
        return http.send(request.build());
    }

    private static JsonNode introspect(Tenant tenant, String credential, String token) {
        var response = introspect(tenant, credential, "application/x-www-form-urlencoded",
                "token=" + URLEncoder.encode(token, StandardCharsets.UTF_8) + "&token_type_hint=access_token");
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        assertThat(response.headers().allValues("Cache-Control")).containsExactly("no-store");
        return response.json();
    }

    private static void assertInactive(JsonNode answer) {
        assertThat(answer.size()).as(answer.toString()).isEqualTo(1);
        assertThat(answer.get("active").asBoolean()).isFalse();
    }

    @Test
    void aLiveTokenIsActiveWithItsClaimsAndInactiveAfterLogout() {
        String credential = newCredential(acme).get("credential").asText();
        assertThat(credential).startsWith("silo_sk_");
        JsonNode member = login(acme, newMember(acme));
        String userId = as(member).get("/t/" + acme.slug() + "/me").json().get("id").asText();

        JsonNode answer = introspect(acme, credential, access(member));
        assertThat(answer.get("active").asBoolean()).isTrue();
        assertThat(answer.get("sub").asText()).isEqualTo(userId);
        assertThat(answer.get("role").asText()).isEqualTo("member");
        assertThat(answer.get("token_type").asText()).isEqualTo("access_token");
        assertThat(answer.get("sid").asText()).isNotEmpty();
        assertThat(answer.get("exp").asLong()).isGreaterThan(answer.get("iat").asLong());

        assertThat(as(member).post("/t/" + acme.slug() + "/auth/logout", "").status()).isEqualTo(204);
        assertInactive(introspect(acme, credential, access(member)));
    }

    @Test
    void aTokenOfAnEndedSessionIsInactiveAtOnce() {
        String credential = newCredential(acme).get("credential").asText();
        String email = newMember(acme);
        JsonNode first = login(acme, email);
        JsonNode second = login(acme, email);
        String sid = introspect(acme, credential, access(first)).get("sid").asText();

        assertThat(as(second).delete("/t/" + acme.slug() + "/me/sessions/" + sid).status()).isEqualTo(204);
        assertInactive(introspect(acme, credential, access(first)));
        assertThat(introspect(acme, credential, access(second)).get("active").asBoolean()).isTrue();
    }

    @Test
    void anotherTenantsTokenGarbageARefreshTokenAndAlgNoneAreInactive() {
        String credential = newCredential(acme).get("credential").asText();
        JsonNode globexAdmin = login(globex, "admin@example.com");
        assertInactive(introspect(acme, credential, access(globexAdmin)));
        assertInactive(introspect(acme, credential, "garbage"));
        assertInactive(introspect(acme, credential, "a".repeat(10_000)));
        assertInactive(introspect(acme, credential, globexAdmin.get("refresh_token").asText()));
        assertInactive(introspect(acme, credential, credential));

        // alg: none with the claims of a live acme token, with and without its signature.
        String live = access(login(acme, "admin@example.com"));
        String[] parts = live.split("\\.");
        String none = Base64.getUrlEncoder().withoutPadding().encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        assertInactive(introspect(acme, credential, none + "." + parts[1] + "."));
        assertInactive(introspect(acme, credential, none + "." + parts[1] + "." + parts[2]));
        assertThat(introspect(acme, credential, live).get("active").asBoolean()).isTrue();
    }

    @Test
    void withoutALiveCredentialOfTheTenantIntrospectionIs401() {
        JsonNode created = newCredential(acme);
        String credential = created.get("credential").asText();
        String globexCredential = newCredential(globex).get("credential").asText();
        String token = access(login(acme, "admin@example.com"));
        String form = "token=" + token;

        for (String wrong : new String[] {null, globexCredential, token, "silo_sk_" + "A".repeat(43), TestingSilo.operatorKey(silo)}) {
            var refused = introspect(acme, wrong, "application/x-www-form-urlencoded", form);
            assertThat(refused.status()).as(String.valueOf(wrong == null ? "none" : wrong.substring(0, 8))).isEqualTo(401);
            assertThat(refused.contentType()).startsWith("application/problem+json");
            assertThat(refused.body()).doesNotContain(token);
        }

        // Used (and so remembered by the node) before it is revoked: the revocation must still be refused at once.
        assertThat(introspect(acme, credential, token).get("active").asBoolean()).isTrue();
        JsonNode admin = login(acme, "admin@example.com");
        var revoked = as(admin).delete("/t/" + acme.slug() + "/service-credentials/" + created.get("id").asText());
        assertThat(revoked.status()).as(revoked.body()).isEqualTo(204);
        var afterRevoke = introspect(acme, credential, "application/x-www-form-urlencoded", form);
        assertThat(afterRevoke.status()).isEqualTo(401);
        assertThat(afterRevoke.json().get("type").asText()).endsWith("invalid-service-credential");
        assertThat(as(admin).delete("/t/" + acme.slug() + "/service-credentials/" + created.get("id").asText()).status())
                .isEqualTo(404);

        // Listed without its secret, revoked; both steps audited.
        var listed = as(admin).get("/t/" + acme.slug() + "/service-credentials");
        assertThat(listed.status()).isEqualTo(200);
        assertThat(listed.body()).contains(created.get("id").asText()).doesNotContain(credential).doesNotContain("silo_sk_");
        var audit = as(admin).get("/t/" + acme.slug() + "/audit?type=service-credential.revoke");
        assertThat(audit.body()).contains(created.get("id").asText());
        assertThat(as(admin).get("/t/" + acme.slug() + "/audit?type=service-credential.create").body())
                .contains(created.get("id").asText()).doesNotContain(credential);
    }

    @Test
    void serviceCredentialsAreStoredOnlyAsHashes() {
        JsonNode created = newCredential(acme);
        String credential = created.get("credential").asText();
        var stored = silo.core().tenantDatabases().withConnection(acme, connection -> {
            try (var select = connection.prepareStatement("SELECT * FROM service_credentials WHERE id = ?")) {
                select.setObject(1, UUID.fromString(created.get("id").asText()));
                try (var rs = select.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                    StringBuilder row = new StringBuilder();
                    for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                        row.append(rs.getString(i)).append('|');
                    }
                    return java.util.Map.entry(rs.getString("token_hash"), row.toString());
                }
            }
        });
        assertThat(stored.getKey()).isEqualTo(OpaqueTokens.hash(credential));
        assertThat(stored.getValue()).doesNotContain(credential).doesNotContain(credential.substring(8));
    }

    @Test
    void aServiceCredentialOpensNoOtherRoute() {
        String credential = newCredential(acme).get("credential").asText();
        TestingHttp service = http.withBearer(credential);
        for (String path : new String[] {"/me", "/me/sessions", "/users", "/service-credentials", "/audit"}) {
            assertThat(service.get("/t/" + acme.slug() + path).status()).as(path).isIn(401, 403);
        }
        assertThat(service.post("/t/" + acme.slug() + "/service-credentials", "{\"name\":\"x\"}").status()).isIn(401, 403);
        assertThat(service.post("/t/" + acme.slug() + "/auth/logout", "").status()).isIn(401, 403);
    }

    @Test
    void aMemberCannotCreateListOrRevokeServiceCredentials() {
        JsonNode created = newCredential(acme);
        TestingHttp member = as(login(acme, newMember(acme)));
        var refused = member.post("/t/" + acme.slug() + "/service-credentials", "{\"name\":\"mine\"}");
        assertThat(refused.status()).isEqualTo(403);
        assertThat(refused.contentType()).startsWith("application/problem+json");
        assertThat(member.get("/t/" + acme.slug() + "/service-credentials").status()).isEqualTo(403);
        assertThat(member.delete("/t/" + acme.slug() + "/service-credentials/" + created.get("id").asText()).status()).isEqualTo(403);
        assertThat(introspect(acme, created.get("credential").asText(), access(login(acme, "admin@example.com")))
                .get("active").asBoolean()).as("the member's refused revocation changed nothing").isTrue();
    }

    @Test
    void badBodiesAreProblems() {
        String credential = newCredential(acme).get("credential").asText();
        String token = access(login(acme, "admin@example.com"));
        assertProblem(introspect(acme, credential, "application/json", "{\"token\":\"" + token + "\"}"), 415);
        assertProblem(introspect(acme, credential, "text/plain", "token=" + token), 415);
        assertProblem(introspect(acme, credential, "application/x-www-form-urlencoded", ""), 400);
        assertProblem(introspect(acme, credential, "application/x-www-form-urlencoded", "token="), 400);
        assertProblem(introspect(acme, credential, "application/x-www-form-urlencoded", "token=a&token=b"), 400);
        assertProblem(introspect(acme, credential, "application/x-www-form-urlencoded", "token=%zz"), 400);
        assertProblem(introspect(acme, credential, "application/x-www-form-urlencoded", "a=1&".repeat(100) + "token=x"), 400);

        TestingHttp admin = as(login(acme, "admin@example.com"));
        String path = "/t/" + acme.slug() + "/service-credentials";
        assertProblem(admin.post(path, "{}"), 400);
        assertProblem(admin.post(path, "{\"name\":\"   \"}"), 400);
        assertProblem(admin.post(path, "{\"name\":\"" + "n".repeat(101) + "\"}"), 400);
        assertProblem(admin.post(path, "{\"name\":\"tab\\there\"}"), 400);
        assertProblem(admin.post(path, "{\"name\":42}"), 400);
        assertProblem(admin.post(path, "not json"), 400);
        assertProblem(admin.post(path, "null"), 400);
        assertProblem(admin.post(path, "[\"name\"]"), 400);
        assertProblem(admin.post(path, "{\"name\":\"a\",\"extra\":1}"), 400);
        assertProblem(admin.delete(path + "/not-a-uuid"), 404);
        assertProblem(admin.delete(path + "/" + UUID.randomUUID()), 404);
        assertProblem(admin.get(path + "?limit=5"), 400);
    }

    private static void assertProblem(TestingHttp.Response response, int status) {
        assertThat(response.status()).as(response.body()).isEqualTo(status);
        assertThat(response.contentType()).startsWith("application/problem+json");
        assertThat(response.json().get("type").asText()).isNotEmpty();
    }
}

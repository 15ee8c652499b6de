package dev.silo.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Sessions a user sees and ends, and an admin for the users of the tenant (issue 19.3), through the real server. */
class SessionsTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static Silo silo;
    private static TestingHttp http;
    private static Tenant acme;
    private static Tenant globex;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        acme = silo.tenants().create(slug("sess-acme"), null, Optional.empty(), Actor.SYSTEM);
        globex = silo.tenants().create(slug("sess-globex"), null, Optional.empty(), Actor.SYSTEM);
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

    /** Logs in with a user agent; the token response. */
    private static JsonNode login(Tenant tenant, String email, String userAgent) {
        var response = http.send(http.request("/t/" + tenant.slug() + "/auth/login")
                .header("Content-Type", "application/json")
                .header("User-Agent", userAgent)
                .header("X-Forwarded-For", "203.0.113.9") // not a trusted proxy here: must not be recorded
                .POST(HttpRequest.BodyPublishers.ofString("{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}"))
                .build());
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return response.json();
    }

    private static TestingHttp as(JsonNode tokens) {
        return http.withBearer(tokens.get("access_token").asText());
    }

    private static String newUser(Tenant tenant, String role) {
        String email = "u" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        var created = as(login(tenant, "admin@example.com", "setup")).post("/t/" + tenant.slug() + "/users",
                "{\"email\":\"" + email + "\",\"role\":\"" + role + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return email;
    }

    private static String userId(Tenant tenant, JsonNode tokens) {
        return as(tokens).get("/t/" + tenant.slug() + "/me").json().get("id").asText();
    }

    private static List<JsonNode> sessions(Tenant tenant, JsonNode tokens) {
        var listed = as(tokens).get("/t/" + tenant.slug() + "/me/sessions");
        assertThat(listed.status()).as(listed.body()).isEqualTo(200);
        List<JsonNode> sessions = new ArrayList<>();
        listed.json().get("sessions").forEach(sessions::add);
        return sessions;
    }

    private static String currentSessionId(Tenant tenant, JsonNode tokens) {
        return sessions(tenant, tokens).stream().filter(s -> s.get("current").asBoolean()).findFirst().orElseThrow()
                .get("id").asText();
    }

    private static TestingHttp.Response refresh(Tenant tenant, JsonNode tokens) {
        return http.post("/t/" + tenant.slug() + "/auth/refresh",
                "{\"refresh_token\":\"" + tokens.get("refresh_token").asText() + "\"}");
    }

    @Test
    void theListShowsEachSessionWithItsDeviceAddressTimesAndTheCurrentFlag() {
        String email = newUser(acme, "member");
        JsonNode laptop = login(acme, email, "Laptop/1.0 \"quoted\" <b>bold</b>");
        JsonNode phone = login(acme, email, "Phone/2.0");

        List<JsonNode> fromPhone = sessions(acme, phone);
        assertThat(fromPhone).hasSize(2);
        JsonNode current = fromPhone.stream().filter(s -> s.get("current").asBoolean()).findFirst().orElseThrow();
        JsonNode other = fromPhone.stream().filter(s -> !s.get("current").asBoolean()).findFirst().orElseThrow();
        assertThat(current.get("device").asText()).isEqualTo("Phone/2.0");
        // Stored and rendered as given, as a JSON string (the quotes and angle brackets are the client's text).
        assertThat(other.get("device").isTextual()).isTrue();
        assertThat(other.get("device").asText()).isEqualTo("Laptop/1.0 \"quoted\" <b>bold</b>");
        // The address Silo records for the request: the forwarded header of an untrusted peer is not believed.
        assertThat(current.get("client_address").asText()).isEqualTo("127.0.0.1");
        assertThat(current.get("created_at").asText()).isNotEmpty();
        assertThat(current.get("last_used_at").asText()).isNotEmpty();
        assertThat(current.get("expires_at").asText()).isNotEmpty();

        // Seen from the laptop, the laptop's session is the current one.
        assertThat(currentSessionId(acme, laptop)).isEqualTo(other.get("id").asText());

        // A refresh keeps the session (and its id) and counts as its last use.
        var refreshed = refresh(acme, laptop);
        assertThat(refreshed.status()).as(refreshed.body()).isEqualTo(200);
        assertThat(currentSessionId(acme, refreshed.json())).isEqualTo(other.get("id").asText());
        assertThat(sessions(acme, phone)).hasSize(2);
    }

    @Test
    void deletingASessionEndsItsAccessAndRefreshTokensAtOnce() {
        String email = newUser(acme, "member");
        JsonNode first = login(acme, email, "First");
        JsonNode second = login(acme, email, "Second");
        String firstId = currentSessionId(acme, first);

        var ended = as(second).delete("/t/" + acme.slug() + "/me/sessions/" + firstId);
        assertThat(ended.status()).as(ended.body()).isEqualTo(204);

        assertThat(as(first).get("/t/" + acme.slug() + "/me").status()).isEqualTo(401);
        var refreshed = refresh(acme, first);
        assertThat(refreshed.status()).isEqualTo(400);
        assertThat(refreshed.json().get("error").asText()).isEqualTo("invalid_grant");
        assertThat(as(second).get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);
        assertThat(sessions(acme, second)).extracting(s -> s.get("id").asText()).doesNotContain(firstId);

        // An ended session is gone: deleting it again is a 404, as is a made-up id or one that is not a UUID.
        assertThat(as(second).delete("/t/" + acme.slug() + "/me/sessions/" + firstId).status()).isEqualTo(404);
        assertThat(as(second).delete("/t/" + acme.slug() + "/me/sessions/" + UUID.randomUUID()).json().get("type").asText())
                .endsWith("session-not-found");
        assertThat(as(second).delete("/t/" + acme.slug() + "/me/sessions/not-a-uuid").status()).isEqualTo(404);

        // Audited.
        var audit = as(login(acme, "admin@example.com", "audit")).get("/t/" + acme.slug() + "/audit?type=session.end");
        assertThat(audit.body()).contains(firstId);
    }

    @Test
    void othersTrueEndsEverySessionButTheCurrentOne() {
        String email = newUser(acme, "member");
        JsonNode a = login(acme, email, "A");
        JsonNode b = login(acme, email, "B");
        JsonNode keep = login(acme, email, "Keep");

        var missing = as(keep).delete("/t/" + acme.slug() + "/me/sessions");
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.contentType()).startsWith("application/problem+json");
        assertThat(as(keep).delete("/t/" + acme.slug() + "/me/sessions?others=maybe").status()).isEqualTo(400);
        assertThat(as(keep).delete("/t/" + acme.slug() + "/me/sessions?other=true").status()).isEqualTo(400);
        assertThat(as(a).get("/t/" + acme.slug() + "/me").status()).as("a refused request ended nothing").isEqualTo(200);

        var ended = as(keep).delete("/t/" + acme.slug() + "/me/sessions?others=true");
        assertThat(ended.status()).as(ended.body()).isEqualTo(200);
        assertThat(ended.json().get("ended").asInt()).isEqualTo(2);
        assertThat(as(a).get("/t/" + acme.slug() + "/me").status()).isEqualTo(401);
        assertThat(as(b).get("/t/" + acme.slug() + "/me").status()).isEqualTo(401);
        assertThat(refresh(acme, b).status()).isEqualTo(400);
        assertThat(as(keep).get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);
        assertThat(sessions(acme, keep)).singleElement().satisfies(s -> assertThat(s.get("current").asBoolean()).isTrue());
    }

    @Test
    void anAdminEndsAnotherUsersSessionsAndAMemberCannot() {
        String email = newUser(acme, "member");
        JsonNode member = login(acme, email, "Member device");
        JsonNode memberElsewhere = login(acme, email, "Member other device");
        String memberId = userId(acme, member);
        JsonNode admin = login(acme, "admin@example.com", "Admin console");
        String adminId = userId(acme, admin);

        var listed = as(admin).get("/t/" + acme.slug() + "/users/" + memberId + "/sessions");
        assertThat(listed.status()).as(listed.body()).isEqualTo(200);
        assertThat(listed.json().get("sessions")).hasSize(2);
        listed.json().get("sessions").forEach(s -> assertThat(s.get("current").asBoolean()).isFalse());
        String memberSession = currentSessionId(acme, member);

        // A member is refused on the admin routes, for another user and for the admin alike.
        for (String path : List.of("/users/" + adminId + "/sessions", "/users/" + memberId + "/sessions")) {
            assertThat(as(member).get("/t/" + acme.slug() + path).status()).isEqualTo(403);
            assertThat(as(member).delete("/t/" + acme.slug() + path).status()).isEqualTo(403);
        }
        String adminSession = currentSessionId(acme, admin);
        assertThat(as(member).delete("/t/" + acme.slug() + "/users/" + adminId + "/sessions/" + adminSession).status())
                .isEqualTo(403);
        // Nor can a member end the admin's session through their own route: it is not theirs.
        assertThat(as(member).delete("/t/" + acme.slug() + "/me/sessions/" + adminSession).status()).isEqualTo(404);
        assertThat(as(admin).get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);

        var one = as(admin).delete("/t/" + acme.slug() + "/users/" + memberId + "/sessions/" + memberSession);
        assertThat(one.status()).as(one.body()).isEqualTo(204);
        assertThat(as(member).get("/t/" + acme.slug() + "/me").status()).isEqualTo(401);
        assertThat(as(memberElsewhere).get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);

        var all = as(admin).delete("/t/" + acme.slug() + "/users/" + memberId + "/sessions");
        assertThat(all.status()).as(all.body()).isEqualTo(200);
        assertThat(all.json().get("ended").asInt()).isEqualTo(1);
        assertThat(as(memberElsewhere).get("/t/" + acme.slug() + "/me").status()).isEqualTo(401);
        assertThat(as(admin).get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);

        var audit = as(admin).get("/t/" + acme.slug() + "/audit?type=session.end-all");
        assertThat(audit.body()).contains(memberId).contains("admin");
        // A user id the tenant does not have.
        assertThat(as(admin).get("/t/" + acme.slug() + "/users/" + UUID.randomUUID() + "/sessions").status()).isEqualTo(404);
    }

    @Test
    void aSessionOrUserOfAnotherTenantIsNotFound() {
        String email = newUser(globex, "member");
        JsonNode globexMember = login(globex, email, "Globex device");
        String globexSession = currentSessionId(globex, globexMember);
        String globexUser = userId(globex, globexMember);
        JsonNode acmeAdmin = login(acme, "admin@example.com", "Acme admin");
        String acmeAdminId = userId(acme, acmeAdmin);

        assertThat(as(acmeAdmin).delete("/t/" + acme.slug() + "/me/sessions/" + globexSession).status()).isEqualTo(404);
        assertThat(as(acmeAdmin).delete("/t/" + acme.slug() + "/users/" + acmeAdminId + "/sessions/" + globexSession).status())
                .isEqualTo(404);
        assertThat(as(acmeAdmin).get("/t/" + acme.slug() + "/users/" + globexUser + "/sessions").status()).isEqualTo(404);
        assertThat(as(acmeAdmin).delete("/t/" + acme.slug() + "/users/" + globexUser + "/sessions/" + globexSession).status())
                .isEqualTo(404);
        // Acme's token on Globex's routes is not a caller there at all.
        assertThat(as(acmeAdmin).get("/t/" + globex.slug() + "/users/" + globexUser + "/sessions").status()).isEqualTo(401);
        assertThat(as(globexMember).get("/t/" + globex.slug() + "/me").status()).isEqualTo(200);
    }
}

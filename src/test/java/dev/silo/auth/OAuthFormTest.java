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
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The token routes as RFC 6749 clients call them: form-encoded bodies with a grant type (issue 10.13). */
class OAuthFormTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static Silo silo;
    private static TestingHttp http;
    private static Tenant tenant;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        tenant = silo.tenants().create("oauth-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
        var admin = http.withBearer(TestingSilo.operatorKey(silo)).post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"zoe@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
    }

    private static TestingHttp.Response form(String route, String body) {
        return http.send(http.request("/t/" + tenant.slug() + "/auth/" + route)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private static String encoded(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    @Test
    void thePasswordGrantAndTheRefreshGrantWorkFormEncoded() {
        var login = form("login", "grant_type=password&username=" + encoded("Zoe@Example.com") + "&password="
                + encoded(PASSWORD) + "&scope=&client_id=my-app");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        JsonNode tokens = login.json();
        assertThat(tokens.get("token_type").asText()).isEqualTo("Bearer");
        assertThat(login.header("Cache-Control")).isEqualTo("no-store");

        var me = http.withBearer(tokens.get("access_token").asText()).get("/t/" + tenant.slug() + "/me");
        assertThat(me.status()).isEqualTo(200);

        var refreshed = form("refresh", "grant_type=refresh_token&refresh_token=" + encoded(tokens.get("refresh_token").asText()));
        assertThat(refreshed.status()).as(refreshed.body()).isEqualTo(200);
        assertThat(refreshed.json().get("refresh_token").asText()).isNotEqualTo(tokens.get("refresh_token").asText());

        // The spent refresh token, presented again, is reuse: invalid_grant as RFC 6749 5.2 names it.
        var reused = form("refresh", "grant_type=refresh_token&refresh_token=" + encoded(tokens.get("refresh_token").asText()));
        assertThat(reused.status()).isEqualTo(400);
        assertThat(reused.json().get("error").asText()).isEqualTo("invalid_grant");
    }

    @Test
    void aWrongPasswordFormEncodedIsTheSame401AsInJson() {
        var form = form("login", "grant_type=password&username=zoe%40example.com&password=wrong-password-here");
        var json = http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"zoe@example.com\",\"password\":\"wrong-password-here\"}");
        assertThat(form.status()).isEqualTo(401);
        assertThat(form.json().get("type").asText()).isEqualTo(json.json().get("type").asText());
    }

    @Test
    void aWrongOrMissingGrantTypeIsA400NamingIt() {
        var wrong = form("login", "grant_type=client_credentials&username=zoe%40example.com&password=x");
        assertThat(wrong.status()).isEqualTo(400);
        assertThat(wrong.contentType()).isEqualTo("application/problem+json");
        assertThat(wrong.json().get("error").asText()).isEqualTo("unsupported_grant_type");
        assertThat(wrong.json().get("detail").asText()).contains("client_credentials").contains("grant_type=password");

        var crossed = form("refresh", "grant_type=password&refresh_token=srt_x");
        assertThat(crossed.json().get("error").asText()).isEqualTo("unsupported_grant_type");

        var missing = form("login", "username=zoe%40example.com&password=x");
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.json().get("error").asText()).isEqualTo("invalid_request");
        assertThat(missing.json().get("detail").asText()).contains("grant_type");

        // In JSON the grant type may be given too, and must then fit the route.
        var json = http.post("/t/" + tenant.slug() + "/auth/refresh", "{\"grant_type\":\"password\",\"refresh_token\":\"srt_x\"}");
        assertThat(json.status()).isEqualTo(400);
        assertThat(json.json().get("error").asText()).isEqualTo("unsupported_grant_type");
    }

    @Test
    void aRepeatedParameterOrABadEscapeIsA400NeverA500() {
        var repeated = form("login", "grant_type=password&username=a%40example.com&username=zoe%40example.com&password=x");
        assertThat(repeated.status()).isEqualTo(400);
        assertThat(repeated.json().get("detail").asText()).contains("'username'").contains("more than once");

        var badEscape = form("login", "grant_type=password&username=%zz&password=x");
        assertThat(badEscape.status()).isEqualTo(400);
        assertThat(badEscape.json().get("type").asText()).endsWith("/invalid-request");

        var flood = form("login", "grant_type=password&" + "a=1&".repeat(100) + "username=zoe%40example.com&password=x");
        assertThat(flood.status()).isEqualTo(400);
    }
}

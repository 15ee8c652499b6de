package dev.silo.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.http.Json;
import dev.silo.tenant.SigningKeys;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Claims C1-C6, C8, C24, C25 attacked through the real server. */
class AuthenticationTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static Silo silo;
    private static TestingHttp http;
    private static Tenant acme;
    private static Tenant globex;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        acme = silo.tenants().create(slug("acme"), null, Optional.empty(), Actor.SYSTEM);
        globex = silo.tenants().create(slug("globex"), null, Optional.empty(), Actor.SYSTEM);
        TestingHttp operator = http.withBearer(TestingSilo.operatorKey(silo));
        for (Tenant tenant : new Tenant[] {acme, globex}) {
            var admin = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                    "{\"email\":\"Admin@Example.com\",\"password\":\"" + PASSWORD + "-" + tenant.slug() + "\"}");
            assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        }
    }

    private static String slug(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static String password(Tenant tenant) {
        return PASSWORD + "-" + tenant.slug();
    }

    private static TestingHttp.Response login(Tenant tenant, String email, String password) {
        return http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"" + email + "\",\"password\":\"" + password + "\"}");
    }

    private static JsonNode adminTokens(Tenant tenant) {
        var response = login(tenant, "admin@example.com", password(tenant));
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return response.json();
    }

    private static TestingHttp as(JsonNode tokens) {
        return http.withBearer(tokens.get("access_token").asText());
    }

    private static String newUser(Tenant tenant, String role) {
        String email = "u" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        var created = as(adminTokens(tenant)).post("/t/" + tenant.slug() + "/users",
                "{\"email\":\"" + email + "\",\"role\":\"" + role + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return email;
    }

    private static void assertInvalidToken(TestingHttp.Response response) {
        assertThat(response.status()).isEqualTo(401);
        assertThat(response.header("WWW-Authenticate")).isEqualTo("Bearer error=\"invalid_token\"");
        assertThat(response.json().get("detail").asText()).isEqualTo("the access token is invalid or expired");
    }

    private static String b64(String json) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }

    private static SigningKey currentKey(Tenant tenant) {
        SigningKeys.SigningKey key = silo.tenants().signingKeys(tenant.id()).getFirst();
        return new SigningKey(key.kid(), key.secret(), Optional.ofNullable(key.retiresAt()));
    }

    private static String issuer(Tenant tenant) {
        return silo.baseUri() + "/t/" + tenant.slug();
    }

    private static String tokenSignedWith(Tenant tenant, SigningKey key, Clock clock, String issuer, String tenantId, Duration ttl,
                                          String sessionId) {
        return new TokenService(clock).issue(new AccessTokenRequest(issuer, issuer, UUID.randomUUID().toString(), tenantId,
                "admin", sessionId, ttl), key).value();
    }

    @Test
    void loginAnswersAnOAuth2TokenResponseWithAnHs256JwtOfTheTenant() throws Exception {
        JsonNode tokens = adminTokens(acme);
        assertThat(tokens.get("token_type").asText()).isEqualTo("Bearer");
        assertThat(tokens.get("expires_in").asLong()).isBetween(890L, 900L);
        assertThat(tokens.get("refresh_token").asText()).startsWith("srt_");
        String[] parts = tokens.get("access_token").asText().split("\\.");
        JsonNode header = Json.MAPPER.readTree(Base64.getUrlDecoder().decode(parts[0]));
        JsonNode claims = Json.MAPPER.readTree(Base64.getUrlDecoder().decode(parts[1]));
        assertThat(header.get("alg").asText()).isEqualTo("HS256");
        assertThat(header.get("kid").asText()).isEqualTo(currentKey(acme).kid());
        assertThat(claims.get("iss").asText()).isEqualTo(issuer(acme));
        assertThat(claims.get("tid").asText()).isEqualTo(acme.id().toString());
        assertThat(claims.get("role").asText()).isEqualTo("admin");
        for (String claim : new String[] {"aud", "sub", "sid", "iat", "nbf", "exp", "jti"}) {
            assertThat(claims.has(claim)).as(claim).isTrue();
        }
        var me = as(tokens).get("/t/" + acme.slug() + "/me");
        assertThat(me.status()).isEqualTo(200);
        assertThat(me.json().get("email").asText()).isEqualTo("Admin@Example.com");
        assertThat(me.body()).doesNotContain("$2b$").doesNotContain("password_hash");
    }

    @Test
    void tokenOfAnotherTenantIsRejected() {
        JsonNode acmeTokens = adminTokens(acme);
        assertInvalidToken(as(acmeTokens).get("/t/" + globex.slug() + "/me"));
        assertInvalidToken(as(acmeTokens).get("/t/" + globex.slug() + "/users"));
    }

    @Test
    void theSameEmailInTwoTenantsIsTwoUnrelatedAccounts() {
        String acmeId = as(adminTokens(acme)).get("/t/" + acme.slug() + "/me").json().get("id").asText();
        String globexId = as(adminTokens(globex)).get("/t/" + globex.slug() + "/me").json().get("id").asText();
        assertThat(acmeId).isNotEqualTo(globexId);
        assertThat(login(globex, "admin@example.com", password(acme)).status()).isEqualTo(401);
    }

    @Test
    void forgedSignatureIsRejected() {
        String token = adminTokens(acme).get("access_token").asText();
        String[] parts = token.split("\\.");
        String forged = parts[0] + "." + parts[1] + "." + new StringBuilder(parts[2]).reverse();
        assertInvalidToken(http.withBearer(forged).get("/t/" + acme.slug() + "/me"));
        String otherSecret = tokenSignedWith(acme, new SigningKey(currentKey(acme).kid(), "x".repeat(64).getBytes(StandardCharsets.UTF_8),
                Optional.empty()), Clock.systemUTC(), issuer(acme), acme.id().toString(), Duration.ofMinutes(5), UUID.randomUUID().toString());
        assertInvalidToken(http.withBearer(otherSecret).get("/t/" + acme.slug() + "/me"));
    }

    @Test
    void algNoneHs512Rs256MissingKidAndUnknownKidAreRejected() throws Exception {
        String token = adminTokens(acme).get("access_token").asText();
        String[] parts = token.split("\\.");
        String kid = currentKey(acme).kid();
        assertInvalidToken(http.withBearer(b64("{\"alg\":\"none\",\"kid\":\"" + kid + "\",\"typ\":\"JWT\"}") + "." + parts[1] + ".")
                .get("/t/" + acme.slug() + "/me"));
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA512");
        mac.init(new javax.crypto.spec.SecretKeySpec(currentKey(acme).secret(), "HmacSHA512"));
        String hs512Header = b64("{\"alg\":\"HS512\",\"kid\":\"" + kid + "\",\"typ\":\"JWT\"}");
        String hs512 = hs512Header + "." + parts[1] + "." + Base64.getUrlEncoder().withoutPadding()
                .encodeToString(mac.doFinal((hs512Header + "." + parts[1]).getBytes(StandardCharsets.US_ASCII)));
        assertInvalidToken(http.withBearer(hs512).get("/t/" + acme.slug() + "/me"));
        assertInvalidToken(http.withBearer(b64("{\"alg\":\"RS256\",\"kid\":\"" + kid + "\",\"typ\":\"JWT\"}") + "." + parts[1] + "." + parts[2])
                .get("/t/" + acme.slug() + "/me"));
        assertInvalidToken(http.withBearer(b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}") + "." + parts[1] + "." + parts[2])
                .get("/t/" + acme.slug() + "/me"));
        assertInvalidToken(http.withBearer(b64("{\"alg\":\"HS256\",\"kid\":\"k_unknown\",\"typ\":\"JWT\"}") + "." + parts[1] + "." + parts[2])
                .get("/t/" + acme.slug() + "/me"));
    }

    @Test
    void expiredNotYetValidWrongIssuerAudienceOrTenantAreRejected() {
        SigningKey key = currentKey(acme);
        String session = UUID.randomUUID().toString();
        Instant now = Instant.now();
        String expired = tokenSignedWith(acme, key, Clock.fixed(now.minus(Duration.ofMinutes(20)), ZoneOffset.UTC), issuer(acme),
                acme.id().toString(), Duration.ofMinutes(15), session);
        assertInvalidToken(http.withBearer(expired).get("/t/" + acme.slug() + "/me"));
        String future = tokenSignedWith(acme, key, Clock.fixed(now.plus(Duration.ofMinutes(5)), ZoneOffset.UTC), issuer(acme),
                acme.id().toString(), Duration.ofMinutes(15), session);
        assertInvalidToken(http.withBearer(future).get("/t/" + acme.slug() + "/me"));
        String wrongIssuer = tokenSignedWith(acme, key, Clock.systemUTC(), "https://evil.example/t/" + acme.slug(),
                acme.id().toString(), Duration.ofMinutes(15), session);
        assertInvalidToken(http.withBearer(wrongIssuer).get("/t/" + acme.slug() + "/me"));
        String wrongTenant = tokenSignedWith(acme, key, Clock.systemUTC(), issuer(acme), globex.id().toString(), Duration.ofMinutes(15), session);
        assertInvalidToken(http.withBearer(wrongTenant).get("/t/" + acme.slug() + "/me"));
    }

    @Test
    void aValidlySignedTokenWithoutALiveSessionIsRejected() {
        String noSession = tokenSignedWith(acme, currentKey(acme), Clock.systemUTC(), issuer(acme), acme.id().toString(),
                Duration.ofMinutes(15), UUID.randomUUID().toString());
        assertInvalidToken(http.withBearer(noSession).get("/t/" + acme.slug() + "/me"));
    }

    @Test
    void garbageMissingAndQueryStringTokensAreRejected() {
        assertInvalidToken(http.withBearer("garbage").get("/t/" + acme.slug() + "/me"));
        assertInvalidToken(http.withBearer("a.b.c").get("/t/" + acme.slug() + "/me"));
        var missing = http.get("/t/" + acme.slug() + "/me");
        assertThat(missing.status()).isEqualTo(401);
        String token = adminTokens(acme).get("access_token").asText();
        assertInvalidToken(http.get("/t/" + acme.slug() + "/me?access_token=" + token));
        assertInvalidToken(http.withBearer(token).get("/t/" + acme.slug() + "/me?access_token=" + token));
    }

    @Test
    void refreshRotatesAndReusingASpentTokenRevokesTheWholeFamily() {
        JsonNode first = adminTokens(acme);
        String path = "/t/" + acme.slug() + "/auth/refresh";
        var second = http.post(path, "{\"refresh_token\":\"" + first.get("refresh_token").asText() + "\"}");
        assertThat(second.status()).isEqualTo(200);
        assertThat(second.json().get("refresh_token").asText()).isNotEqualTo(first.get("refresh_token").asText());
        assertThat(as(second.json()).get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);

        var reuse = http.post(path, "{\"refresh_token\":\"" + first.get("refresh_token").asText() + "\"}");
        assertThat(reuse.status()).isEqualTo(400);
        assertThat(reuse.json().get("type").asText()).endsWith("/invalid-grant");
        assertThat(reuse.json().get("error").asText()).isEqualTo("invalid_grant");
        assertThat(http.post(path, "{\"refresh_token\":\"" + second.json().get("refresh_token").asText() + "\"}").status()).isEqualTo(400);
        assertInvalidToken(as(second.json()).get("/t/" + acme.slug() + "/me"));
        assertThat(as(adminTokens(acme)).get("/t/" + acme.slug() + "/audit?type=refresh.reuse").body()).contains("refresh.reuse");
        assertThat(http.post(path, "{\"refresh_token\":\"srt_" + "A".repeat(43) + "\"}").status()).isEqualTo(400);
        assertThat(http.post(path, "{\"refresh_token\":\"nonsense\"}").status()).isEqualTo(400);
    }

    @Test
    void logoutEndsBothTheRefreshTokenAndTheSessionsAccessToken() {
        JsonNode tokens = adminTokens(acme);
        JsonNode other = adminTokens(acme);
        var logout = as(tokens).send(as(tokens).request("/t/" + acme.slug() + "/auth/logout").POST(HttpRequest.BodyPublishers.noBody()).build());
        assertThat(logout.status()).isEqualTo(204);
        assertInvalidToken(as(tokens).get("/t/" + acme.slug() + "/me"));
        assertThat(http.post("/t/" + acme.slug() + "/auth/refresh", "{\"refresh_token\":\"" + tokens.get("refresh_token").asText() + "\"}")
                .status()).isEqualTo(400);
        // Another session of the same user is untouched.
        assertThat(as(other).get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);
    }

    @Test
    void aPasswordChangeEndsOldTokensOnThisNodeAndOnASecondNode() throws Exception {
        String email = newUser(acme, "member");
        JsonNode tokens = login(acme, email, PASSWORD).json();
        DatabaseUrl catalog = silo.catalogUrl();
        String url = "postgres://" + catalog.user() + ":" + catalog.password() + "@localhost:" + catalog.port() + "/" + catalog.database()
                + "?sslmode=verify-full&sslrootcert=" + catalog.parameters().get("sslrootcert");
        String masterKey = Files.readString(silo.config().dataDir().resolve("master.key")).strip();
        try (Silo second = TestingSilo.startNew(TestingSilo.newDataDir("auth-node2"), Map.of("SILO_DATABASE_URL", url,
                "SILO_MASTER_KEY", masterKey, "SILO_PUBLIC_URL", silo.baseUri().toString()))) {
            TestingHttp secondNode = new TestingHttp(second.baseUri()).withBearer(tokens.get("access_token").asText());
            assertThat(secondNode.get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);
            var changed = as(tokens).post("/t/" + acme.slug() + "/me/password",
                    "{\"current_password\":\"" + PASSWORD + "\",\"new_password\":\"a brand new passphrase\"}");
            assertThat(changed.status()).as(changed.body()).isEqualTo(200);
            assertInvalidToken(as(tokens).get("/t/" + acme.slug() + "/me"));
            await().atMost(SessionCache.MAX_STALENESS.plusSeconds(2)).untilAsserted(() ->
                    assertInvalidToken(secondNode.get("/t/" + acme.slug() + "/me")));
            assertThat(as(changed.json()).get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);
            assertThat(login(acme, email, PASSWORD).status()).isEqualTo(401);
            assertThat(login(acme, email, "a brand new passphrase").status()).isEqualTo(200);
        }
    }

    @Test
    void disablingAUserEndsItsTokensAndItsLogins() {
        String email = newUser(acme, "member");
        JsonNode tokens = login(acme, email, PASSWORD).json();
        TestingHttp admin = as(adminTokens(acme));
        String id = as(tokens).get("/t/" + acme.slug() + "/me").json().get("id").asText();
        var disabled = admin.send(admin.request("/t/" + acme.slug() + "/users/" + id).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"disabled\":true}")).build());
        assertThat(disabled.status()).as(disabled.body()).isEqualTo(200);
        assertInvalidToken(as(tokens).get("/t/" + acme.slug() + "/me"));
        var refused = login(acme, email, PASSWORD);
        assertThat(refused.status()).isEqualTo(401);
        assertThat(refused.json().get("type").asText()).endsWith("/invalid-credentials");
    }

    @Test
    void unknownEmailAndWrongPasswordGiveIdenticalAnswersAndTheSameBcryptWork() {
        long before = silo.core().hasher().bcryptCalls();
        var unknown = login(globex, "nobody-" + UUID.randomUUID() + "@example.com", "whatever password 1");
        long afterUnknown = silo.core().hasher().bcryptCalls();
        var wrong = login(globex, "admin@example.com", "whatever password 2");
        long afterWrong = silo.core().hasher().bcryptCalls();
        assertThat(unknown.status()).isEqualTo(wrong.status()).isEqualTo(401);
        JsonNode a = unknown.json();
        JsonNode b = wrong.json();
        for (String field : new String[] {"type", "title", "status", "detail", "instance"}) {
            assertThat(a.get(field)).as(field).isEqualTo(b.get(field));
        }
        assertThat(a.size()).isEqualTo(b.size());
        assertThat(afterUnknown - before).isEqualTo(1);
        assertThat(afterWrong - afterUnknown).isEqualTo(1);
    }

    @Test
    void repeatedFailuresLockTheAccountWith429AndBcryptIsNotRunWhileLocked() {
        Tenant tenant = silo.tenants().create(slug("lock"), null, Optional.empty(), Actor.SYSTEM);
        String email = "victim@example.com";
        silo.core().users().create(tenant, email, "member", PASSWORD, dev.silo.audit.TenantAudit.Context.SYSTEM);
        for (int i = 0; i < 5; i++) {
            assertThat(login(tenant, email, "wrong password " + i).status()).isEqualTo(401);
        }
        long calls = silo.core().hasher().bcryptCalls();
        var locked = login(tenant, email, PASSWORD);
        assertThat(locked.status()).isEqualTo(429);
        assertThat(locked.contentType()).isEqualTo("application/problem+json");
        assertThat(Long.parseLong(locked.header("Retry-After"))).isPositive();
        for (int i = 0; i < 3; i++) {
            assertThat(login(tenant, email, PASSWORD).status()).isEqualTo(429);
        }
        assertThat(silo.core().hasher().bcryptCalls()).isEqualTo(calls);
        // The lockout is in the tenant's audit log.
        JsonNode admin = null;
        silo.core().users().create(tenant, "boss@example.com", "admin", PASSWORD, dev.silo.audit.TenantAudit.Context.SYSTEM);
        admin = login(tenant, "boss@example.com", PASSWORD).json();
        assertThat(as(admin).get("/t/" + tenant.slug() + "/audit?type=login.lockout").body()).contains("login.lockout");
    }

    @Test
    void aMisspeltOrRepeatedQueryParameterIsRefusedNotIgnored() {
        var admin = as(adminTokens(acme));
        var misspelt = admin.get("/t/" + acme.slug() + "/users?limt=5");
        assertThat(misspelt.status()).isEqualTo(400);
        assertThat(misspelt.json().get("detail").asText()).contains("'limt'").contains("limit and cursor");
        var audit = admin.get("/t/" + acme.slug() + "/audit?typ=login.lockout");
        assertThat(audit.status()).isEqualTo(400);
        assertThat(audit.json().get("detail").asText()).contains("'typ'");
        assertThat(admin.get("/t/" + acme.slug() + "/audit?limit=1&limit=2").status()).isEqualTo(400);
        assertThat(admin.get("/t/" + acme.slug() + "/users?limit=1").status()).isEqualTo(200);
    }

    @Test
    void aPasswordOver72BytesIsRefusedNamingTheLimit() {
        TestingHttp admin = as(adminTokens(acme));
        String longPassword = "€".repeat(25); // 25 characters, 75 bytes in UTF-8
        var response = admin.post("/t/" + acme.slug() + "/users",
                "{\"email\":\"long@example.com\",\"role\":\"member\",\"password\":\"" + longPassword + "\"}");
        assertThat(response.status()).isEqualTo(400);
        assertThat(response.json().get("type").asText()).endsWith("/password-too-long");
        assertThat(response.json().get("detail").asText()).contains("72");
        var shortOne = admin.post("/t/" + acme.slug() + "/users", "{\"email\":\"short@example.com\",\"role\":\"member\",\"password\":\"short\"}");
        assertThat(shortOne.status()).isEqualTo(400);
        assertThat(shortOne.json().get("type").asText()).endsWith("/weak-password");
    }

    @Test
    void aMemberCannotAdministerUsers() {
        String email = newUser(acme, "member");
        TestingHttp member = as(login(acme, email, PASSWORD).json());
        assertThat(member.get("/t/" + acme.slug() + "/users").status()).isEqualTo(403);
        assertThat(member.post("/t/" + acme.slug() + "/users", "{\"email\":\"x@example.com\",\"password\":\"" + PASSWORD + "\"}").status())
                .isEqualTo(403);
        assertThat(member.get("/t/" + acme.slug() + "/audit").status()).isEqualTo(403);
        assertThat(member.get("/t/" + acme.slug() + "/me").status()).isEqualTo(200);
    }

    @Test
    void aTokenOfThePreviousKeyIsAcceptedDuringTheGracePeriodOnly() {
        Tenant tenant = silo.tenants().create(slug("grace"), null, Optional.empty(), Actor.SYSTEM);
        silo.core().users().create(tenant, "g@example.com", "admin", PASSWORD, dev.silo.audit.TenantAudit.Context.SYSTEM);
        JsonNode tokens = login(tenant, "g@example.com", PASSWORD).json();
        SigningKey previous = currentKey(tenant);
        String session = as(tokens).get("/t/" + tenant.slug() + "/me").json().get("id").asText();
        assertThat(session).isNotBlank();
        silo.tenants().rotateSecret(tenant.slug(), false, Actor.SYSTEM);
        assertThat(as(tokens).get("/t/" + tenant.slug() + "/me").status()).isEqualTo(200);
        JsonNode fresh = login(tenant, "g@example.com", PASSWORD).json();
        assertThat(fresh.get("access_token").asText()).doesNotContain(previous.kid());
        try {
            TestingSilo.CLOCK.advance(Duration.ofMinutes(16));
            assertInvalidToken(as(tokens).get("/t/" + tenant.slug() + "/me"));
        } finally {
            TestingSilo.CLOCK.reset();
        }
        silo.tenants().rotateSecret(tenant.slug(), true, Actor.SYSTEM);
        assertInvalidToken(as(fresh).get("/t/" + tenant.slug() + "/me"));
    }

    @Test
    void userAdministrationRoundTripWithPaginationAndPasswordReset() {
        TestingHttp admin = as(adminTokens(globex));
        String base = "/t/" + globex.slug() + "/users";
        for (int i = 0; i < 3; i++) {
            assertThat(admin.post(base, "{\"email\":\"page" + i + "@example.com\",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}")
                    .status()).isEqualTo(201);
        }
        var duplicate = admin.post(base, "{\"email\":\"PAGE0@example.com\",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(duplicate.status()).isEqualTo(409);
        java.util.Set<String> seen = new java.util.HashSet<>();
        String cursor = null;
        do {
            var page = admin.get(base + "?limit=2" + (cursor == null ? "" : "&cursor=" + cursor));
            assertThat(page.status()).isEqualTo(200);
            page.json().get("users").forEach(u -> assertThat(seen.add(u.get("id").asText())).isTrue());
            cursor = page.json().get("next_cursor").isNull() ? null : page.json().get("next_cursor").asText();
        } while (cursor != null);
        assertThat(seen).hasSizeGreaterThanOrEqualTo(4);
        assertThat(admin.get(base + "?cursor=bogus").status()).isEqualTo(400);

        String id = login(globex, "page1@example.com", PASSWORD).json().get("access_token").isNull() ? null
                : as(login(globex, "page1@example.com", PASSWORD).json()).get("/t/" + globex.slug() + "/me").json().get("id").asText();
        var promoted = admin.send(admin.request(base + "/" + id).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"role\":\"admin\"}")).build());
        assertThat(promoted.json().get("role").asText()).isEqualTo("admin");
        var badPatch = admin.send(admin.request(base + "/" + id).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"password_hash\":\"x\"}")).build());
        assertThat(badPatch.status()).isEqualTo(400);

        var reset = admin.send(admin.request(base + "/" + id + "/password-reset").POST(HttpRequest.BodyPublishers.noBody()).build());
        String resetToken = reset.json().get("reset_token").asText();
        String resetPath = "/t/" + globex.slug() + "/auth/password-reset";
        assertThat(http.post(resetPath, "{\"token\":\"" + resetToken + "\",\"new_password\":\"the reset passphrase\"}").status()).isEqualTo(204);
        assertThat(http.post(resetPath, "{\"token\":\"" + resetToken + "\",\"new_password\":\"another passphrase\"}").status()).isEqualTo(400);
        assertThat(login(globex, "page1@example.com", "the reset passphrase").status()).isEqualTo(200);

        assertThat(admin.delete(base + "/" + id).status()).isEqualTo(204);
        assertThat(admin.get(base + "/" + id).status()).isEqualTo(404);
        assertThat(admin.get(base + "/not-a-uuid").status()).isEqualTo(404);
    }

    @Test
    void aSuspendedTenantRefusesLoginsAndTokens() {
        Tenant tenant = silo.tenants().create(slug("halt"), null, Optional.empty(), Actor.SYSTEM);
        silo.core().users().create(tenant, "h@example.com", "admin", PASSWORD, dev.silo.audit.TenantAudit.Context.SYSTEM);
        JsonNode tokens = login(tenant, "h@example.com", PASSWORD).json();
        silo.tenants().suspend(tenant.slug(), Actor.SYSTEM);
        var refused = login(tenant, "h@example.com", PASSWORD);
        assertThat(refused.status()).isEqualTo(403);
        assertThat(refused.json().get("type").asText()).endsWith("/tenant-suspended");
        assertThat(as(tokens).get("/t/" + tenant.slug() + "/me").status()).isEqualTo(403);
    }

    @Test
    void noPasswordOrTokenReachesTheLogs() {
        JsonNode tokens = adminTokens(acme);
        as(tokens).get("/t/" + acme.slug() + "/me");
        var lines = TestingLogs.lines();
        assertThat(lines).noneMatch(l -> l.contains(PASSWORD));
        assertThat(lines).noneMatch(l -> l.contains(tokens.get("access_token").asText()));
        assertThat(lines).noneMatch(l -> l.contains(tokens.get("refresh_token").asText()));
        assertThat(lines).noneMatch(l -> l.contains("$2b$"));
    }

    @Test
    void malformedLoginBodiesAreProblemsNotErrors() {
        String path = "/t/" + acme.slug() + "/auth/login";
        assertThat(http.post(path, "{").status()).isEqualTo(400);
        assertThat(http.post(path, "[]").status()).isEqualTo(400);
        assertThat(http.post(path, "{\"email\":\"a@b.c\"}").status()).isEqualTo(400);
        assertThat(http.post(path, "{\"email\":42,\"password\":\"x\"}").status()).isEqualTo(400);
        assertThat(http.post("/t/no-such-tenant/auth/login", "{\"email\":\"a@b.c\",\"password\":\"x\"}").status()).isEqualTo(404);
    }
}

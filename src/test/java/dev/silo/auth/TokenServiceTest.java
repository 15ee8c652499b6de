package dev.silo.auth;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.silo.platform.problem.Unauthorized;
import org.junit.jupiter.api.Test;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TokenServiceTest {
    private static final String ISSUER_A = "https://silo.example.com/t/acme";
    private static final String ISSUER_B = "https://silo.example.com/t/globex";
    private static final String AUDIENCE = "silo";
    private static final String TENANT_A = "11111111-1111-1111-1111-111111111111";
    private static final String TENANT_B = "22222222-2222-2222-2222-222222222222";
    private static final String USER = "33333333-3333-3333-3333-333333333333";

    private final TestingClock clock = new TestingClock();
    private final TokenService tokens = new TokenService(clock);
    private final SigningKey keyA = SigningKey.of("kidA", JwtSecrets.generate());
    private final SigningKey keyB = SigningKey.of("kidB", JwtSecrets.generate());
    private final VerificationContext tenantA = context(ISSUER_A, TENANT_A, keyA);
    private final VerificationContext tenantB = context(ISSUER_B, TENANT_B, keyB);

    private static VerificationContext context(String issuer, String tenantId, SigningKey... keys) {
        return new VerificationContext(issuer, AUDIENCE, tenantId, lookup(keys));
    }

    private static Function<String, Optional<SigningKey>> lookup(SigningKey... keys) {
        return kid -> List.of(keys).stream().filter(key -> key.kid().equals(kid)).findFirst();
    }

    private static AccessTokenRequest requestFor(String issuer, String tenantId) {
        return new AccessTokenRequest(issuer, AUDIENCE, USER, tenantId, "member", "session-1");
    }

    private String validTokenOfA() {
        return tokens.issue(requestFor(ISSUER_A, TENANT_A), keyA).value();
    }

    @Test
    void validTokenIsAccepted() {
        IssuedAccessToken issued = tokens.issue(requestFor(ISSUER_A, TENANT_A), keyA);
        AccessToken token = tokens.verify(issued.value(), tenantA);
        assertThat(token).isEqualTo(new AccessToken(USER, TENANT_A, "member", "session-1", clock.instant(),
                clock.instant().plus(Duration.ofMinutes(15)), issued.jti(), "kidA"));
        assertThat(issued.expiresInSeconds()).isEqualTo(900);
        assertThat(issued.toString()).doesNotContain(issued.value());
    }

    @Test
    void issuedTokenHasTheDocumentedHeaderAndClaims() throws Exception {
        SignedJWT jwt = SignedJWT.parse(validTokenOfA());
        assertThat(jwt.getHeader().toJSONObject())
                .isEqualTo(Map.of("alg", "HS256", "kid", "kidA", "typ", "JWT"));
        JWTClaimsSet claims = jwt.getJWTClaimsSet();
        assertThat(claims.getClaims().keySet())
                .containsExactlyInAnyOrder("iss", "aud", "sub", "tid", "role", "sid", "iat", "nbf", "exp", "jti");
        assertThat(claims.getIssuer()).isEqualTo(ISSUER_A);
        assertThat(claims.getAudience()).containsExactly(AUDIENCE);
        assertThat(claims.getStringClaim("tid")).isEqualTo(TENANT_A);
        assertThat(claims.getIssueTime()).isEqualTo(claims.getNotBeforeTime());
        assertThat(claims.getJWTID()).isNotEqualTo(SignedJWT.parse(validTokenOfA()).getJWTClaimsSet().getJWTID());
    }

    @Test
    void ttlIsConfigurable() {
        IssuedAccessToken issued = tokens.issue(new AccessTokenRequest(ISSUER_A, AUDIENCE, USER, TENANT_A, "admin",
                "session-1", Duration.ofMinutes(5)), keyA);
        assertThat(tokens.verify(issued.value(), tenantA).expiresAt()).isEqualTo(clock.instant().plus(Duration.ofMinutes(5)));
        assertThatThrownBy(() -> new AccessTokenRequest(ISSUER_A, AUDIENCE, USER, TENANT_A, "admin", "s", Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void algNoneIsRejected() {
        String[] parts = validTokenOfA().split("\\.");
        String none = b64("{\"alg\":\"none\",\"kid\":\"kidA\",\"typ\":\"JWT\"}") + "." + parts[1] + ".";
        assertInvalid(none, tenantA);
        String noneWithSignature = b64("{\"alg\":\"none\",\"kid\":\"kidA\",\"typ\":\"JWT\"}") + "." + parts[1] + "." + parts[2];
        assertInvalid(noneWithSignature, tenantA);
    }

    @Test
    void hs512IsRejected() throws Exception {
        assertInvalid(sign(new JWSHeader.Builder(JWSAlgorithm.HS512).keyID("kidA").type(JOSEObjectType.JWT).build(),
                claimsOfA().build(), keyA), tenantA);
    }

    @Test
    void rs256HeaderIsRejected() {
        // Key confusion: an RS256 header with an HMAC over the input, as a verifier that trusts alg might accept.
        String header = b64("{\"alg\":\"RS256\",\"kid\":\"kidA\",\"typ\":\"JWT\"}");
        String payload = validTokenOfA().split("\\.")[1];
        assertInvalid(header + "." + payload + "." + hmac("HmacSHA256", header + "." + payload, keyA), tenantA);
    }

    @Test
    void lowerCaseAlgIsRejected() {
        String header = b64("{\"alg\":\"hs256\",\"kid\":\"kidA\",\"typ\":\"JWT\"}");
        String payload = validTokenOfA().split("\\.")[1];
        assertInvalid(header + "." + payload + "." + hmac("HmacSHA256", header + "." + payload, keyA), tenantA);
    }

    @Test
    void algIsCheckedBeforeTheKeyLookupAndAnyCrypto() {
        AtomicInteger lookups = new AtomicInteger();
        VerificationContext counting = new VerificationContext(ISSUER_A, AUDIENCE, TENANT_A, kid -> {
            lookups.incrementAndGet();
            return Optional.of(keyA);
        });
        String payload = validTokenOfA().split("\\.")[1];
        assertInvalid(b64("{\"alg\":\"none\",\"kid\":\"kidA\",\"typ\":\"JWT\"}") + "." + payload + ".", counting);
        assertInvalid(b64("{\"alg\":\"RS256\",\"kid\":\"kidA\",\"typ\":\"JWT\"}") + "." + payload + ".AAAA", counting);
        assertThat(lookups).hasValue(0);
        tokens.verify(validTokenOfA(), counting);
        assertThat(lookups).hasValue(1);
    }

    @Test
    void forgedSignatureIsRejected() {
        String[] parts = validTokenOfA().split("\\.");
        // Privilege escalation: same header and signature, payload changed to role admin.
        String escalated = b64(new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8)
                .replace("\"member\"", "\"admin\""));
        assertThat(escalated).isNotEqualTo(parts[1]);
        assertInvalid(parts[0] + "." + escalated + "." + parts[2], tenantA);
        // Signed with a secret the attacker made up.
        SigningKey guessed = SigningKey.of("kidA", JwtSecrets.generate());
        assertInvalid(tokens.issue(requestFor(ISSUER_A, TENANT_A), guessed).value(), tenantA);
        // Signature flipped in its last character, or removed.
        char last = parts[2].charAt(parts[2].length() - 1);
        assertInvalid(parts[0] + "." + parts[1] + "." + parts[2].substring(0, parts[2].length() - 1)
                + (last == 'A' ? 'B' : 'A'), tenantA);
        assertInvalid(parts[0] + "." + parts[1] + ".", tenantA);
    }

    @Test
    void nonCanonicalSignatureEncodingIsRejected() {
        // 32 bytes take 43 base64url characters; the last one carries 2 unused bits. Setting them gives another
        // string for the same signature bytes: one token must have one spelling.
        String[] parts = validTokenOfA().split("\\.");
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int last = alphabet.indexOf(parts[2].charAt(42));
        String respelled = parts[2].substring(0, 42) + alphabet.charAt(last ^ 1);
        assertThat(Base64.getUrlDecoder().decode(respelled)).isEqualTo(Base64.getUrlDecoder().decode(parts[2]));
        assertInvalid(parts[0] + "." + parts[1] + "." + respelled, tenantA);
        // Characters Nimbus's lenient decoder would skip.
        assertInvalid(parts[0] + "." + parts[1] + "." + parts[2].substring(0, 20) + " " + parts[2].substring(20), tenantA);
        assertInvalid(parts[0] + ".\n" + parts[1] + "." + parts[2], tenantA);
    }

    @Test
    void onlyThreeNonEmptyBase64urlPartsHaveTheCompactShape() {
        assertThat(TokenService.isCompactJws("aB0-_.cD1.eF2")).isTrue();
        assertThat(TokenService.isCompactJws(validTokenOfA())).isTrue();
        for (String shape : List.of("", "a", "a.b", "a.b.", ".b.c", "a..c", "a.b.c.", "a.b.c.d", "a.b=.c", "a.b.c=",
                "a.b.c ", "a.b+.c", "a.b/.c", "a.\u00e9.c", "a.b.c\n", "...")) {
            assertThat(TokenService.isCompactJws(shape)).as(shape).isFalse();
        }
    }

    @Test
    void missingKidIsRejected() throws Exception {
        assertInvalid(sign(new JWSHeader.Builder(JWSAlgorithm.HS256).type(JOSEObjectType.JWT).build(),
                claimsOfA().build(), keyA), tenantA);
    }

    @Test
    void unknownKidIsRejected() throws Exception {
        assertInvalid(sign(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("kidZ").type(JOSEObjectType.JWT).build(),
                claimsOfA().build(), keyA), tenantA);
        assertInvalid(sign(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("../../etc/passwd").type(JOSEObjectType.JWT)
                .build(), claimsOfA().build(), keyA), tenantA);
    }

    @Test
    void headerParametersBeyondAlgKidTypAreRejected() throws Exception {
        List<JWSHeader> headers = List.of(
                base().criticalParams(java.util.Set.of("exp")).customParam("exp", 1).build(),
                base().jwkURL(URI.create("https://attacker.example/jwks.json")).build(),
                base().x509CertURL(URI.create("https://attacker.example/cert.pem")).build(),
                base().base64URLEncodePayload(false).criticalParams(java.util.Set.of("b64")).build(),
                base().contentType("JWT").build(),
                base().customParam("x-anything", "x").build());
        for (JWSHeader header : headers) {
            assertInvalid(sign(header, claimsOfA().build(), keyA), tenantA);
        }
        // An embedded symmetric jwk (Nimbus refuses to build one): the attacker's own key must never be used.
        SigningKey attackers = SigningKey.of("kidA", JwtSecrets.generate());
        String payload = validTokenOfA().split("\\.")[1];
        for (SigningKey key : List.of(attackers, keyA)) {
            String header = b64("{\"alg\":\"HS256\",\"kid\":\"kidA\",\"typ\":\"JWT\",\"jwk\":{\"kty\":\"oct\",\"k\":\""
                    + Base64.getUrlEncoder().withoutPadding().encodeToString(key.secret()) + "\"}}");
            assertInvalid(header + "." + payload + "." + hmac("HmacSHA256", header + "." + payload, key), tenantA);
        }
        // Control: the same hand-built token without the extra parameter is accepted.
        String header = b64("{\"alg\":\"HS256\",\"kid\":\"kidA\",\"typ\":\"JWT\"}");
        tokens.verify(header + "." + payload + "." + hmac("HmacSHA256", header + "." + payload, keyA), tenantA);
    }

    @Test
    void tokenWithoutJwtTypIsRejected() throws Exception {
        assertInvalid(sign(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("kidA").build(), claimsOfA().build(), keyA),
                tenantA);
        assertInvalid(sign(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("kidA").type(new JOSEObjectType("at+jwt"))
                .build(), claimsOfA().build(), keyA), tenantA);
    }

    @Test
    void expiredTokenIsRejected() {
        String token = validTokenOfA();
        clock.advance(Duration.ofMinutes(15).plusSeconds(30));
        assertInvalid(token, tenantA);
        clock.advance(Duration.ofDays(365));
        assertInvalid(token, tenantA);
    }

    @Test
    void tokenWithinSkewIsAccepted() {
        String token = validTokenOfA();
        clock.advance(Duration.ofMinutes(15).plusSeconds(29));
        tokens.verify(token, tenantA);
        // Issued by a node whose clock is 30 s ahead of ours.
        clock.advance(Duration.ofSeconds(30));
        String fromTheFuture = validTokenOfA();
        clock.advance(Duration.ofSeconds(-30));
        tokens.verify(fromTheFuture, tenantA);
    }

    @Test
    void notYetValidIsRejected() throws Exception {
        Instant now = clock.instant();
        clock.advance(Duration.ofSeconds(31));
        String early = validTokenOfA();
        clock.set(now);
        assertInvalid(early, tenantA);
        // nbf far ahead with iat now, and iat far ahead with nbf now.
        assertInvalid(sign(base().build(), claimsOfA().notBeforeTime(Date.from(now.plusSeconds(3600))).build(), keyA),
                tenantA);
        assertInvalid(sign(base().build(), claimsOfA().issueTime(Date.from(now.plusSeconds(3600))).build(), keyA),
                tenantA);
    }

    @Test
    void wrongIssuerAudienceOrTenantIsRejected() throws Exception {
        String token = validTokenOfA();
        assertInvalid(token, new VerificationContext(ISSUER_B, AUDIENCE, TENANT_A, lookup(keyA)));
        assertInvalid(token, new VerificationContext(ISSUER_A, "other-audience", TENANT_A, lookup(keyA)));
        assertInvalid(token, new VerificationContext(ISSUER_A, AUDIENCE, TENANT_B, lookup(keyA)));
        // Validly signed by A's key, but claiming tenant B or no tenant at all.
        assertInvalid(sign(base().build(), claimsOfA().claim("tid", TENANT_B).build(), keyA), tenantA);
        assertInvalid(sign(base().build(), claimsOfA().claim("tid", null).build(), keyA), tenantA);
        assertInvalid(sign(base().build(), claimsOfA().audience(List.of()).build(), keyA), tenantA);
    }

    @Test
    void tokenOfAnotherTenantKeyIsRejected() {
        String ofA = validTokenOfA();
        assertInvalid(ofA, tenantB);
        // Same user id, same issuer and tenant claims forged to B's, but signed with A's key: still refused.
        String ofAforB = tokens.issue(requestFor(ISSUER_B, TENANT_B), keyA).value();
        assertInvalid(ofAforB, tenantB);
        assertThat(tokens.verify(tokens.issue(requestFor(ISSUER_B, TENANT_B), keyB).value(), tenantB).userId())
                .isEqualTo(USER);
    }

    @Test
    void sameKidInAnotherTenantWithAnotherSecretIsRejected() {
        // Kids are random, but if two tenants shared one, the verifier cache must not mix their secrets.
        SigningKey sameKidOfB = SigningKey.of("kidA", JwtSecrets.generate());
        VerificationContext bWithSameKid = context(ISSUER_B, TENANT_B, sameKidOfB);
        String ofA = tokens.issue(requestFor(ISSUER_B, TENANT_B), keyA).value();
        assertThat(tokens.verify(validTokenOfA(), tenantA).kid()).isEqualTo("kidA"); // warms the cache for kidA
        assertInvalid(ofA, bWithSameKid);
        tokens.verify(tokens.issue(requestFor(ISSUER_B, TENANT_B), sameKidOfB).value(), bWithSameKid);
    }

    @Test
    void garbageIsRejected() {
        List<String> garbage = new ArrayList<>(List.of("", " ", "Bearer", "a.b.c", "...", "a.b", "a.b.c.d.e",
                "eyJ.eyJ.sig", b64("{}") + "." + b64("{}") + ".", b64("[]") + "." + b64("{}") + ".AA",
                b64("{\"alg\":\"HS256\",\"kid\":\"kidA\",\"typ\":\"JWT\"}") + ".not-base64!." + "AA",
                b64("{\"alg\":\"HS256\",\"kid\":\"kidA\",\"typ\":\"JWT\"}") + "." + b64("not json") + ".AA",
                "x".repeat(TokenService.MAX_TOKEN_LENGTH + 1), "\u0000\u0001", validTokenOfA() + "x",
                validTokenOfA() + ".", " " + validTokenOfA()));
        for (String token : garbage) {
            assertInvalid(token, tenantA);
        }
        assertInvalid(null, tenantA);
    }

    @Test
    void validlySignedTokenWithWrongClaimTypesOrMissingClaimsIsRejected() throws Exception {
        assertInvalid(sign(base().build(), claimsOfA().claim("tid", 42).build(), keyA), tenantA);
        assertInvalid(sign(base().build(), claimsOfA().claim("role", List.of("admin")).build(), keyA), tenantA);
        assertInvalid(sign(base().build(), claimsOfA().claim("sid", null).build(), keyA), tenantA);
        assertInvalid(sign(base().build(), claimsOfA().subject(null).build(), keyA), tenantA);
        assertInvalid(sign(base().build(), claimsOfA().expirationTime(null).build(), keyA), tenantA);
        assertInvalid(sign(base().build(), claimsOfA().notBeforeTime(null).build(), keyA), tenantA);
        assertInvalid(sign(base().build(), claimsOfA().jwtID("").build(), keyA), tenantA);
        tokens.verify(sign(base().build(), claimsOfA().build(), keyA), tenantA); // the helper itself is valid
    }

    @Test
    void previousKeyVerifiesDuringGraceOnly() {
        String signedBeforeRotation = tokens.issue(new AccessTokenRequest(ISSUER_A, AUDIENCE, USER, TENANT_A, "member",
                "session-1", Duration.ofHours(1)), keyA).value();
        clock.advance(Duration.ofMinutes(1));
        // Rotation: a new current key; the previous one keeps verifying for a 15-minute grace period.
        SigningKey current = SigningKey.of("kidA2", JwtSecrets.generate());
        SigningKey previous = keyA.retiringAt(clock.instant().plus(Duration.ofMinutes(15)));
        VerificationContext rotated = context(ISSUER_A, TENANT_A, current, previous);

        assertThat(tokens.verify(signedBeforeRotation, rotated).kid()).isEqualTo("kidA");
        String signedAfterRotation = tokens.issue(requestFor(ISSUER_A, TENANT_A), current).value();
        assertThat(tokens.verify(signedAfterRotation, rotated).kid()).isEqualTo("kidA2");
        clock.advance(Duration.ofMinutes(14).plusSeconds(59));
        tokens.verify(signedBeforeRotation, rotated);

        clock.advance(Duration.ofSeconds(1));
        assertInvalid(signedBeforeRotation, rotated); // not expired, but its key is retired: no skew for that
        assertThatThrownBy(() -> tokens.issue(requestFor(ISSUER_A, TENANT_A), previous))
                .isInstanceOf(IllegalStateException.class);
        tokens.verify(signedAfterRotation, rotated);
        // Once the lookup drops the retired key, its tokens are unknown-kid failures: same answer.
        assertInvalid(signedBeforeRotation, context(ISSUER_A, TENANT_A, current));
    }

    @Test
    void everyFailureLooksTheSame() {
        String token = validTokenOfA();
        List<Unauthorized> failures = new ArrayList<>();
        failures.add(catchInvalid("garbage", tenantA));
        failures.add(catchInvalid(token, tenantB));
        failures.add(catchInvalid(token, new VerificationContext(ISSUER_B, AUDIENCE, TENANT_A, lookup(keyA))));
        clock.advance(Duration.ofHours(1));
        failures.add(catchInvalid(token, tenantA));
        for (Unauthorized failure : failures) {
            assertThat(failure.status()).isEqualTo(401);
            assertThat(failure.type()).isEqualTo("invalid-token");
            assertThat(failure.detail()).isEqualTo("the access token is invalid or expired");
            assertThat(failure.headers()).isEqualTo(Map.of("WWW-Authenticate", "Bearer error=\"invalid_token\""));
            assertThat(failure.getCause()).isNull();
        }
    }

    @Test
    void aFailingKeyLookupIsAnErrorNotAnInvalidToken() {
        VerificationContext broken = new VerificationContext(ISSUER_A, AUDIENCE, TENANT_A, kid -> {
            throw new IllegalStateException("catalog unreachable");
        });
        assertThatThrownBy(() -> tokens.verify(validTokenOfA(), broken))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("catalog unreachable");
    }

    @Test
    void signingKeysAreChecked() {
        assertThatThrownBy(() -> new SigningKey("kid", new byte[31], Optional.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("32 bytes");
        assertThatThrownBy(() -> SigningKey.of("bad kid", JwtSecrets.generate())).isInstanceOf(IllegalArgumentException.class);
        String secret = JwtSecrets.generate();
        SigningKey key = SigningKey.of("kid", secret);
        assertThat(key).isEqualTo(SigningKey.of("kid", secret)).hasSameHashCodeAs(SigningKey.of("kid", secret));
        assertThat(key.toString()).doesNotContain(secret);
        key.secret()[0] ^= 1; // a copy: the key stays intact
        assertThat(key).isEqualTo(SigningKey.of("kid", secret));
    }

    private JWSHeader.Builder base() {
        return new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("kidA").type(JOSEObjectType.JWT);
    }

    private JWTClaimsSet.Builder claimsOfA() {
        Instant now = clock.instant();
        return new JWTClaimsSet.Builder()
                .issuer(ISSUER_A)
                .audience(AUDIENCE)
                .subject(USER)
                .claim("tid", TENANT_A)
                .claim("role", "member")
                .claim("sid", "session-1")
                .issueTime(Date.from(now))
                .notBeforeTime(Date.from(now))
                .expirationTime(Date.from(now.plus(Duration.ofMinutes(15))))
                .jwtID("jti-1");
    }

    private static String sign(JWSHeader header, JWTClaimsSet claims, SigningKey key) throws Exception {
        SignedJWT jwt = new SignedJWT(header, claims);
        jwt.sign(new MACSigner(key.secret()));
        return jwt.serialize();
    }

    private static String b64(String json) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }

    private static String hmac(String algorithm, String input, SigningKey key) {
        try {
            Mac mac = Mac.getInstance(algorithm);
            mac.init(new SecretKeySpec(key.secret(), algorithm));
            return Base64.getUrlEncoder().withoutPadding()
                    .encodeToString(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void assertInvalid(String token, VerificationContext context) {
        catchInvalid(token, context);
    }

    private Unauthorized catchInvalid(String token, VerificationContext context) {
        try {
            AccessToken accepted = tokens.verify(token, context);
            throw new AssertionError("accepted a bad token: " + accepted);
        } catch (Unauthorized e) {
            assertThat(e.type()).isEqualTo("invalid-token");
            return e;
        }
    }
}

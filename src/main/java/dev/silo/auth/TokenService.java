package dev.silo.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.silo.platform.problem.Unauthorized;

import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static java.util.Objects.requireNonNull;

/**
 * Issues and verifies the access tokens of tenant users: JWTs signed HS256 with the tenant's key (claims C3-C6).
 *
 * <p>{@link #verify} checks, in this order, cheapest first and all before trusting anything: the token parses
 * and is at most {@value #MAX_TOKEN_LENGTH} characters; the header's {@code alg} is exactly {@code HS256}
 * (checked before any cryptography, so {@code none}, {@code HS512}, {@code RS256} or a lower-case {@code hs256}
 * never reach a verifier); the header holds nothing but {@code alg}, {@code kid} and {@code typ: JWT}, so
 * {@code crit}, {@code jku}, {@code jwk}, {@code x5u}, {@code x5c}, {@code b64} and the like are refused
 * rather than interpreted; the {@code kid} is a key of this tenant, not retired; the signature (compared in
 * constant time by Nimbus); {@code exp}, {@code nbf} and {@code iat} with at most {@value #MAX_SKEW_SECONDS} s of
 * clock skew against the injected {@link Clock}; {@code iss}, {@code aud} and {@code tid}; then that
 * {@code sub}, {@code role}, {@code sid} and {@code jti} are present. Any failure is the same
 * {@link Unauthorized} ({@code invalid-token}, {@code WWW-Authenticate: Bearer error="invalid_token"}) with a
 * detail that never says which check failed, so a client learns nothing from probing.
 *
 * <p>Signers and verifiers are built once per key and kept in a small cache: building them costs more than
 * using them ({@code notes/limits.md}). The cache is keyed by the kid <em>and the secret</em>, never by the kid
 * alone, so two tenants that happened to use the same kid could never verify with each other's secret.
 *
 * <p>Thread-safe.
 */
public final class TokenService {
    public static final int MAX_SKEW_SECONDS = 30;
    public static final Duration MAX_SKEW = Duration.ofSeconds(MAX_SKEW_SECONDS);
    /** Silo's tokens are about 500 characters; a bound keeps parsing of hostile input cheap. */
    public static final int MAX_TOKEN_LENGTH = 4096;
    /** How many keys keep their signer and verifier in memory. */
    static final long MAX_CACHED_KEYS = 10_000;

    private static final Set<String> ALLOWED_HEADER_PARAMETERS = Set.of("alg", "kid", "typ");
    private static final SecureRandom RANDOM = new SecureRandom();
    /**
     * Three base64url parts and nothing else: Nimbus's decoder skips characters outside the alphabet, so
     * without this a token with spaces or other junk inside would still verify.
     */
    static boolean isCompactJws(String token) {
        // A loop rather than a regex: this runs on every authenticated request, and the regex was a visible
        // share of a request's CPU in profiles.
        int dots = 0;
        int segment = 0;
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c == '.') {
                if (segment == 0 || ++dots > 2) {
                    return false;
                }
                segment = 0;
            } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
                segment++;
            } else {
                return false;
            }
        }
        return dots == 2 && segment > 0;
    }

    private record KeyMaterial(String kid, ByteBuffer secret) {}

    private record KeyCrypto(MACSigner signer, MACVerifier verifier) {}

    private final Clock clock;
    private final Cache<KeyMaterial, KeyCrypto> macs;
    private final AuthMetrics metrics;

    public TokenService(Clock clock) {
        this(clock, AuthMetrics.none());
    }

    /** @param metrics where failed checks are counted by reason (never told to the client) */
    public TokenService(Clock clock, AuthMetrics metrics) {
        this.clock = requireNonNull(clock, "clock is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.macs = Caffeine.newBuilder().maximumSize(MAX_CACHED_KEYS).executor(Runnable::run).build();
    }

    /**
     * Signs a new access token with {@code key}: header {@code {alg: HS256, kid, typ: JWT}}, claims {@code iss},
     * {@code aud}, {@code sub}, {@code tid}, {@code role}, {@code sid}, {@code iat} = {@code nbf} = now (whole
     * seconds), {@code exp} = now + ttl, and a random {@code jti}.
     *
     * @throws IllegalStateException when {@code key} is retired
     */
    public IssuedAccessToken issue(AccessTokenRequest request, SigningKey key) {
        requireNonNull(request, "request is null");
        requireNonNull(key, "key is null");
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        if (key.isRetiredAt(now)) {
            throw new IllegalStateException("signing key " + key.kid() + " retired at " + key.retiresAt().orElseThrow());
        }
        Instant expiresAt = now.plus(request.ttl());
        String jti = randomId();
        JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.HS256)
                .keyID(key.kid())
                .type(JOSEObjectType.JWT)
                .build();
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(request.issuer())
                .audience(request.audience())
                .subject(request.userId())
                .claim("tid", request.tenantId())
                .claim("role", request.role())
                .claim("sid", request.sessionId())
                .issueTime(Date.from(now))
                .notBeforeTime(Date.from(now))
                .expirationTime(Date.from(expiresAt))
                .jwtID(jti)
                .build();
        SignedJWT jwt = new SignedJWT(header, claims);
        try {
            jwt.sign(macFor(key).signer());
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign an access token with key " + key.kid(), e);
        }
        return new IssuedAccessToken(jwt.serialize(), jti, now, expiresAt);
    }

    /**
     * Verifies {@code token} for the tenant of {@code context}; see the class comment for the checks and their
     * order. Revocation (session, user epoch) is the caller's next step.
     *
     * @throws Unauthorized {@code invalid-token} whatever the reason
     */
    public AccessToken verify(String token, VerificationContext context) {
        requireNonNull(context, "context is null");
        if (token == null || token.length() > MAX_TOKEN_LENGTH || !isCompactJws(token)) {
            throw failed(AuthMetrics.TokenFailure.MALFORMED);
        }
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(token);
        } catch (ParseException | RuntimeException e) {
            throw failed(AuthMetrics.TokenFailure.MALFORMED);
        }
        JWSHeader header = jwt.getHeader();
        if (!JWSAlgorithm.HS256.equals(header.getAlgorithm())
                || !ALLOWED_HEADER_PARAMETERS.containsAll(header.getIncludedParams())
                || header.getType() == null
                || !"JWT".equalsIgnoreCase(header.getType().getType())) {
            throw failed(AuthMetrics.TokenFailure.HEADER);
        }
        String kid = header.getKeyID();
        if (kid == null || !SigningKey.isWellFormedKid(kid)) {
            throw failed(AuthMetrics.TokenFailure.HEADER);
        }
        // Outside the try blocks: a failing lookup (database down) is a 500, not a bad token.
        Optional<SigningKey> found = requireNonNull(context.keys().apply(kid), "key lookup returned null");
        Instant now = clock.instant();
        SigningKey key = found.filter(k -> k.kid().equals(kid) && !k.isRetiredAt(now))
                .orElseThrow(() -> failed(AuthMetrics.TokenFailure.UNKNOWN_KEY));
        boolean signed;
        try {
            signed = jwt.verify(macFor(key).verifier());
        } catch (JOSEException | RuntimeException e) {
            throw failed(AuthMetrics.TokenFailure.SIGNATURE);
        }
        if (!signed || !isCanonical(jwt.getSignature().toString())) {
            throw failed(AuthMetrics.TokenFailure.SIGNATURE);
        }
        JWTClaimsSet claims;
        try {
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw failed(AuthMetrics.TokenFailure.CLAIMS);
        }
        return acceptClaims(claims, context, kid, now);
    }

    private AccessToken acceptClaims(JWTClaimsSet claims, VerificationContext context, String kid, Instant now) {
        try {
            Date expiration = claims.getExpirationTime();
            Date notBefore = claims.getNotBeforeTime();
            Date issued = claims.getIssueTime();
            if (expiration == null || notBefore == null || issued == null) {
                throw failed(AuthMetrics.TokenFailure.CLAIMS);
            }
            Instant expiresAt = expiration.toInstant();
            Instant issuedAt = issued.toInstant();
            Instant latest = now.plus(MAX_SKEW);
            if (!now.isBefore(expiresAt.plus(MAX_SKEW))
                    || latest.isBefore(notBefore.toInstant())
                    || latest.isBefore(issuedAt)) {
                throw failed(AuthMetrics.TokenFailure.EXPIRED);
            }
            List<String> audience = claims.getAudience();
            if (!context.issuer().equals(claims.getIssuer())
                    || audience == null
                    || !audience.contains(context.audience())
                    || !context.tenantId().equals(claims.getStringClaim("tid"))) {
                throw failed(AuthMetrics.TokenFailure.WRONG_TENANT);
            }
            String userId = requirePresent(claims.getSubject());
            String role = requirePresent(claims.getStringClaim("role"));
            String sessionId = requirePresent(claims.getStringClaim("sid"));
            String jti = requirePresent(claims.getJWTID());
            return new AccessToken(userId, context.tenantId(), role, sessionId, issuedAt, expiresAt, jti, kid);
        } catch (ParseException e) {
            throw failed(AuthMetrics.TokenFailure.CLAIMS); // a claim of the wrong JSON type
        }
    }

    /**
     * Whether the signature is written the one way base64url allows: the unused low bits of its last character
     * are zero. Otherwise several strings would be the same token, and a denylist keyed by the token string
     * could be dodged.
     */
    private static boolean isCanonical(String signature) {
        byte[] bytes = Base64.getUrlDecoder().decode(signature);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes).equals(signature);
    }

    private String requirePresent(String claim) {
        if (claim == null || claim.isEmpty()) {
            throw failed(AuthMetrics.TokenFailure.CLAIMS);
        }
        return claim;
    }

    /** Counts the reason, which only the metrics learn, and returns the one answer every client gets. */
    private Unauthorized failed(AuthMetrics.TokenFailure reason) {
        metrics.tokenFailed(reason);
        return invalidToken();
    }

    private KeyCrypto macFor(SigningKey key) {
        return macs.get(new KeyMaterial(key.kid(), ByteBuffer.wrap(key.secretBytes())), material -> {
            try {
                byte[] secret = key.secret();
                return new KeyCrypto(new MACSigner(secret), new MACVerifier(secret));
            } catch (JOSEException e) {
                throw new IllegalStateException("cannot use signing key " + key.kid(), e);
            }
        });
    }

    private static String randomId() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** The one answer to every bad token (RFC 6750 section 3.1). */
    public static Unauthorized invalidToken() {
        return new Unauthorized("invalid-token", "the access token is invalid or expired",
                "Bearer error=\"invalid_token\"");
    }
}

package dev.silo.auth;

import dev.silo.audit.TenantAudit;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Problem;
import dev.silo.platform.problem.TooManyRequests;
import dev.silo.platform.problem.Unauthorized;
import dev.silo.platform.problem.Unavailable;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantDirectory;
import dev.silo.user.User;
import dev.silo.user.UserService;

import javax.sql.DataSource;
import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * Logins, tokens and sessions of tenant users (claims C2-C6, C8).
 *
 * <p>A login checks the throttle <em>before</em> bcrypt, so a flood of bad logins cannot burn the CPU; bcrypt
 * runs through a {@link HashingGate} of bounded concurrency and queue, so a login storm answers 503 at once
 * instead of starving the rest of the API. An unknown e-mail costs the same bcrypt work as a wrong password and
 * gets the same answer. A session is one refresh-token family; access tokens carry its id ({@code sid}), so
 * logging out, changing the password or disabling the user also ends the session's access tokens.
 */
public final class AuthService {
    /** The same answer for an unknown e-mail, a wrong password and a disabled user. */
    private static final String BAD_CREDENTIALS = "the e-mail or password is incorrect";
    private static final String INVALID_GRANT = "the refresh token is invalid, expired or already used";

    public record Settings(Duration accessTokenLifetime, Duration sessionLifetime) {
        public Settings {
            requireNonNull(accessTokenLifetime, "accessTokenLifetime is null");
            requireNonNull(sessionLifetime, "sessionLifetime is null");
        }
    }

    /** An OAuth2 token response (RFC 6749 section 5.1). */
    public record TokenResponse(String accessToken, String tokenType, long expiresIn, String refreshToken) {
        @Override
        public String toString() {
            return "TokenResponse[expires_in=" + expiresIn + "]";
        }
    }

    private final TenantDatabases databases;
    private final DataSource catalog;
    private final CatalogEvents events;
    private final UserService users;
    private final PasswordHasher hasher;
    private final PasswordPolicy policy;
    private final HashingGate gate;
    private final LoginThrottle throttle;
    private final TokenService tokens;
    private final SessionCache sessions;
    private final TenantAudit audit;
    private final Clock clock;
    private final Settings settings;
    private final Supplier<URI> publicUrl;
    private final AuthMetrics metrics;
    private volatile SecondFactor secondFactor = (resolved, user, request) -> Optional.empty();
    private volatile AccountHooks hooks = AccountHooks.NONE;

    public AuthService(TenantDatabases databases, DataSource catalog, CatalogEvents events, UserService users, PasswordHasher hasher,
                       PasswordPolicy policy, HashingGate gate, LoginThrottle throttle, TokenService tokens, SessionCache sessions,
                       TenantAudit audit, Clock clock, Settings settings, Supplier<URI> publicUrl) {
        this(databases, catalog, events, users, hasher, policy, gate, throttle, tokens, sessions, audit, clock, settings, publicUrl,
                AuthMetrics.none());
    }

    /** @param metrics where logins are counted by outcome and refused tokens by reason */
    public AuthService(TenantDatabases databases, DataSource catalog, CatalogEvents events, UserService users, PasswordHasher hasher,
                       PasswordPolicy policy, HashingGate gate, LoginThrottle throttle, TokenService tokens, SessionCache sessions,
                       TenantAudit audit, Clock clock, Settings settings, Supplier<URI> publicUrl, AuthMetrics metrics) {
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.events = requireNonNull(events, "events is null");
        this.users = requireNonNull(users, "users is null");
        this.hasher = requireNonNull(hasher, "hasher is null");
        this.policy = requireNonNull(policy, "policy is null");
        this.gate = requireNonNull(gate, "gate is null");
        this.throttle = requireNonNull(throttle, "throttle is null");
        this.tokens = requireNonNull(tokens, "tokens is null");
        this.sessions = requireNonNull(sessions, "sessions is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.settings = requireNonNull(settings, "settings is null");
        this.publicUrl = requireNonNull(publicUrl, "publicUrl is null");
    }

    /** What the e-mail flows add to logins and password changes (dev.silo.mail); none by default. */
    public void useAccountHooks(AccountHooks hooks) {
        this.hooks = requireNonNull(hooks, "hooks is null");
    }

    /** The token issuer and audience of a tenant: {@code <public URL>/t/<slug>}. */
    public String issuer(String slug) {
        return publicUrl.get() + "/t/" + slug;
    }

    // ---- login

    public TokenResponse login(TenantDirectory.ResolvedTenant resolved, String email, String password, RequestContext request) {
        var tenant = resolved.tenant();
        if (password == null) {
            metrics.login(AuthMetrics.LoginOutcome.INVALID_REQUEST, tenant);
            throw new BadRequest("invalid-request", "fields 'email' and 'password' are required");
        }
        // A malformed e-mail (a control character, U+0000 included) cannot belong to any account, so a 400 saying
        // so reveals nothing; it never reaches SQL, the throttle or bcrypt.
        String normalized;
        try {
            normalized = UserService.normalizeEmail(email);
        } catch (BadRequest e) {
            metrics.login(AuthMetrics.LoginOutcome.INVALID_REQUEST, tenant);
            throw new BadRequest("invalid-request", "field 'email' must be an e-mail address (name@domain) and 'password' a string");
        }
        String tenantKey = tenant.id().toString();
        try {
            throttle.check(tenantKey, normalized, request.clientAddress());
        } catch (TooManyRequests e) {
            metrics.login(AuthMetrics.LoginOutcome.THROTTLED, tenant);
            throw e;
        }

        // The hashing place is taken before anything else, so a storm is shed at once, before it waits for a
        // tenant connection; and no connection is held while bcrypt runs (read, release, hash, then write).
        Optional<User> found;
        boolean verified;
        Optional<String> rehashed = Optional.empty();
        try (HashingGate.Reservation hashing = gate.reserve()) {
            found = databases.withConnection(tenant, connection -> users.findByEmail(connection, normalized));
            verified = hashing.run(() -> found.isPresent()
                    ? hasher.verify(password, found.get().passwordHash())
                    : hasher.verifyDummy(password));
            if (verified && !found.get().disabled() && hasher.needsRehash(found.get().passwordHash())) {
                rehashed = Optional.of(hashing.run(() -> hasher.hash(password)));
            }
        } catch (Unavailable e) {
            if (HashingGate.BUSY.equals(e.type())) {
                metrics.login(AuthMetrics.LoginOutcome.BUSY, tenant);
            }
            throw e;
        }
        if (!verified || found.get().disabled()) {
            metrics.login(found.isEmpty() ? AuthMetrics.LoginOutcome.UNKNOWN_EMAIL
                    : verified ? AuthMetrics.LoginOutcome.DISABLED : AuthMetrics.LoginOutcome.WRONG_PASSWORD, tenant);
            List<LoginThrottle.Lockout> lockouts = throttle.recordFailure(tenantKey, normalized, request.clientAddress());
            databases.inTransaction(tenant, connection -> {
                Map<String, Object> detail = new LinkedHashMap<>();
                detail.put("reason", found.isEmpty() ? "unknown-email" : verified ? "disabled" : "wrong-password");
                audit.append(connection, request.audit(null), "login.failure", found.map(u -> u.id().toString()).orElse(null), detail);
                for (LoginThrottle.Lockout lockout : lockouts) {
                    audit.append(connection, request.audit(null), "login.lockout", found.map(u -> u.id().toString()).orElse(null),
                            Map.of("scope", lockout.scope().name().toLowerCase(), "until", lockout.until().toString()));
                }
                return null;
            });
            throw new Unauthorized("invalid-credentials", BAD_CREDENTIALS, "Bearer");
        }
        User user = found.get();
        Optional<String> newHash = rehashed;
        // Account checks (an unverified e-mail) come before the second factor: such a user gets no MFA ticket.
        databases.withConnection(tenant, connection -> {
            hooks.beforeLogin(connection, tenant, user);
            return null;
        });
        // The second factor (dev.silo.auth.mfa) may stop the login here with its ticket; the account's failures are
        // cleared only once it passes (completeLogin), so a known password does not reset the count of wrong codes.
        Optional<Unauthorized> secondStep = secondFactor.challenge(resolved, user, request);
        if (secondStep.isPresent()) {
            newHash.ifPresent(hash -> databases.inTransaction(tenant, connection -> {
                updateHash(connection, user.id(), hash);
                return null;
            }));
            metrics.login(AuthMetrics.LoginOutcome.MFA_REQUIRED, tenant);
            throw secondStep.get();
        }
        throttle.recordSuccess(tenantKey, normalized);
        TokenResponse tokens = databases.inTransaction(tenant, connection -> {
            newHash.ifPresent(hash -> updateHash(connection, user.id(), hash));
            TokenResponse response = newSession(connection, resolved, user, request);
            audit.append(connection, request.audit("user:" + user.id()), "login.success", user.id().toString(),
                    newHash.isPresent() ? Map.of("rehashed", true) : Map.of());
            return response;
        });
        metrics.login(AuthMetrics.LoginOutcome.SUCCESS, tenant);
        return tokens;
    }

    /**
     * Finishes a login whose second factor passed ({@code dev.silo.auth.mfa}): the account's failures are cleared and
     * a session begins, exactly as a login without a second factor does.
     *
     * @param factor how the second factor was given, for the audit log ({@code totp}, {@code recovery-code})
     */
    public TokenResponse completeLogin(TenantDirectory.ResolvedTenant resolved, User user, RequestContext request, String factor) {
        var tenant = resolved.tenant();
        throttle.recordSuccess(tenant.id().toString(), UserService.canonicalEmail(user.email()));
        TokenResponse tokens = databases.inTransaction(tenant, connection -> {
            TokenResponse response = newSession(connection, resolved, user, request);
            audit.append(connection, request.audit("user:" + user.id()), "login.success", user.id().toString(), Map.of("mfa", factor));
            return response;
        });
        metrics.login(AuthMetrics.LoginOutcome.SUCCESS, tenant);
        return tokens;
    }

    /** What a login asks after the password checked out and before the session begins: the second factor. */
    @FunctionalInterface
    public interface SecondFactor {
        /** The 401 that stops this login (it carries the ticket for the second step), or empty to let it through. */
        Optional<Unauthorized> challenge(TenantDirectory.ResolvedTenant resolved, User user, RequestContext request);
    }

    /** Makes logins ask for the second factor (the mfa package supplies it: it lives above this class). */
    public void requireSecondFactor(SecondFactor check) {
        this.secondFactor = requireNonNull(check, "check is null");
    }

    private TokenResponse newSession(Connection connection, TenantDirectory.ResolvedTenant resolved, User user, RequestContext request)
            throws SQLException {
        UUID sessionId = UUID.randomUUID();
        Instant now = clock.instant();
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO sessions (id, user_id, created_at, expires_at, client_ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)
                """)) {
            insert.setObject(1, sessionId);
            insert.setObject(2, user.id());
            insert.setTimestamp(3, Timestamp.from(now));
            insert.setTimestamp(4, Timestamp.from(now.plus(settings.sessionLifetime())));
            insert.setString(5, request.clientAddress().getHostAddress());
            insert.setString(6, request.userAgent() == null ? null : request.userAgent().substring(0, Math.min(300, request.userAgent().length())));
            insert.executeUpdate();
        }
        return tokenPair(connection, resolved, user.id(), user.role(), sessionId);
    }

    private TokenResponse tokenPair(Connection connection, TenantDirectory.ResolvedTenant resolved, UUID userId, String role,
                                    UUID sessionId) throws SQLException {
        String refresh = OpaqueTokens.generate(OpaqueTokens.Kind.REFRESH);
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)")) {
            insert.setString(1, OpaqueTokens.hash(refresh));
            insert.setObject(2, sessionId);
            insert.setTimestamp(3, Timestamp.from(clock.instant()));
            insert.executeUpdate();
        }
        IssuedAccessToken access = issue(resolved, userId, role, sessionId);
        return new TokenResponse(access.value(), "Bearer", access.expiresInSeconds(), refresh);
    }

    private IssuedAccessToken issue(TenantDirectory.ResolvedTenant resolved, UUID userId, String role, UUID sessionId) {
        SigningKey key = resolved.signingKey(clock.instant());
        String issuer = issuer(resolved.tenant().slug());
        return tokens.issue(new AccessTokenRequest(issuer, issuer, userId.toString(), resolved.tenant().id().toString(), role,
                sessionId.toString(), settings.accessTokenLifetime()), key);
    }

    private static void updateHash(Connection connection, UUID userId, String hash) {
        try (PreparedStatement update = connection.prepareStatement("UPDATE users SET password_hash = ? WHERE id = ?")) {
            update.setString(1, hash);
            update.setObject(2, userId);
            update.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- refresh and logout

    /**
     * Rotates a refresh token: the presented one is spent and a new pair returned. Presenting a spent token again
     * means it was stolen or replayed: the whole session (family) is revoked and the reuse audited.
     */
    public TokenResponse refresh(TenantDirectory.ResolvedTenant resolved, String refreshToken, RequestContext request) {
        if (refreshToken == null || !OpaqueTokens.isWellFormed(OpaqueTokens.Kind.REFRESH, refreshToken)) {
            throw invalidGrant();
        }
        var tenant = resolved.tenant();
        Instant now = clock.instant();
        record Outcome(TokenResponse response, UUID revokedSession, Problem problem) {}
        Outcome outcome = databases.inTransaction(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT r.used_at, s.id AS session_id, s.revoked_at, s.expires_at, u.id AS user_id, u.role, u.disabled
                    FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id
                    WHERE r.token_hash = ? FOR UPDATE OF r, s
                    """)) {
                select.setString(1, OpaqueTokens.hash(refreshToken));
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        return new Outcome(null, null, invalidGrant());
                    }
                    UUID sessionId = rs.getObject("session_id", UUID.class);
                    UUID userId = rs.getObject("user_id", UUID.class);
                    String role = rs.getString("role");
                    boolean reused = rs.getTimestamp("used_at") != null;
                    boolean sessionDead = rs.getTimestamp("revoked_at") != null || rs.getTimestamp("expires_at").toInstant().isBefore(now)
                            || rs.getBoolean("disabled");
                    if (reused) {
                        boolean wasLive = rs.getTimestamp("revoked_at") == null;
                        revokeSession(connection, sessionId, "refresh token reuse", now);
                        audit.append(connection, request.audit(null), "refresh.reuse", userId.toString(),
                                Map.of("session_id", sessionId.toString(), "family_revoked", wasLive));
                        return new Outcome(null, sessionId, invalidGrant());
                    }
                    if (sessionDead) {
                        return new Outcome(null, null, invalidGrant());
                    }
                    try (PreparedStatement spend = connection.prepareStatement("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?")) {
                        spend.setTimestamp(1, Timestamp.from(now));
                        spend.setString(2, OpaqueTokens.hash(refreshToken));
                        spend.executeUpdate();
                    }
                    return new Outcome(tokenPair(connection, resolved, userId, role, sessionId), null, null);
                }
            }
        });
        if (outcome.revokedSession() != null) {
            events.announce(catalog, "session:" + tenant.id() + ":" + outcome.revokedSession());
        }
        if (outcome.problem() != null) {
            throw outcome.problem();
        }
        return outcome.response();
    }

    /** Ends the caller's session: its refresh token and its access tokens stop working. */
    public void logout(Caller caller) {
        databases.inTransaction(caller.tenant(), connection -> {
            revokeSession(connection, caller.sessionId(), "logout", clock.instant());
            audit.append(connection, caller.audit(), "logout", caller.userId().toString(), Map.of("session_id", caller.sessionId().toString()));
            return null;
        });
        events.announce(catalog, "session:" + caller.tenant().id() + ":" + caller.sessionId());
    }

    private static void revokeSession(Connection connection, UUID sessionId, String reason, Instant now) throws SQLException {
        try (PreparedStatement revoke = connection.prepareStatement(
                "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL")) {
            revoke.setTimestamp(1, Timestamp.from(now));
            revoke.setString(2, reason);
            revoke.setObject(3, sessionId);
            revoke.executeUpdate();
        }
    }

    // ---- passwords

    /**
     * Changes the caller's own password after checking the current one (throttled like a login). Every session of
     * the user ends, this one included; the answer is a fresh token pair for a new session.
     */
    public TokenResponse changePassword(Caller caller, TenantDirectory.ResolvedTenant resolved, String current, String next) {
        if (current == null || next == null) {
            throw new BadRequest("invalid-request", "fields 'current_password' and 'new_password' are required");
        }
        User user = users.get(caller.tenant(), caller.userId());
        String tenantKey = caller.tenant().id().toString();
        String normalized = UserService.canonicalEmail(user.email());
        throttle.check(tenantKey, normalized, caller.request().clientAddress());
        if (!gate.run(() -> hasher.verify(current, user.passwordHash()))) {
            throttle.recordFailure(tenantKey, normalized, caller.request().clientAddress());
            throw new BadRequest("wrong-password", "the current password is incorrect");
        }
        policy.check(next, normalized);
        String hash = gate.run(() -> hasher.hash(next));
        TokenResponse response = databases.inTransaction(caller.tenant(), connection -> {
            Instant now = clock.instant();
            setPassword(connection, user.id(), hash, now);
            UserService.revokeSessions(connection, user.id(), "password changed", now);
            audit.append(connection, caller.audit(), "password.change", user.id().toString(), Map.of());
            hooks.passwordChanged(connection, caller.tenant(), user.id(), Optional.empty());
            return newSession(connection, resolved, user, caller.request());
        });
        events.announce(catalog, UserService.userEvent(caller.tenant(), user.id()));
        return response;
    }

    /**
     * Sets a new password with a one-time reset token (one an admin issued, or one mailed by forgot-password); every
     * session of the user ends.
     */
    public void resetPassword(TenantDirectory.ResolvedTenant resolved, String token, String next, RequestContext request) {
        if (token == null || !OpaqueTokens.isWellFormed(OpaqueTokens.Kind.PASSWORD_RESET, token) || next == null) {
            throw invalidResetToken();
        }
        var tenant = resolved.tenant();
        String tokenHash = OpaqueTokens.hash(token);
        // Read and check, release the connection, hash on the gate, then write: no tenant connection or row lock
        // is held while bcrypt runs. The write re-checks the token under a lock, so it is spent exactly once.
        String normalizedEmail = databases.withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT u.email_normalized FROM password_resets p JOIN users u ON u.id = p.user_id
                    WHERE p.token_hash = ? AND p.used_at IS NULL AND p.expires_at > ?
                    """)) {
                select.setString(1, tokenHash);
                select.setTimestamp(2, Timestamp.from(clock.instant()));
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw invalidResetToken();
                    }
                    return rs.getString(1);
                }
            }
        });
        policy.check(next, normalizedEmail);
        String hash = gate.run(() -> hasher.hash(next));
        UUID userId = databases.inTransaction(tenant, connection -> {
            Instant now = clock.instant();
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT p.user_id FROM password_resets p
                    WHERE p.token_hash = ? AND p.used_at IS NULL AND p.expires_at > ? FOR UPDATE OF p
                    """)) {
                select.setString(1, tokenHash);
                select.setTimestamp(2, Timestamp.from(now));
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw invalidResetToken();
                    }
                    UUID id = rs.getObject(1, UUID.class);
                    setPassword(connection, id, hash, now);
                    try (PreparedStatement spend = connection.prepareStatement("UPDATE password_resets SET used_at = ? WHERE token_hash = ?")) {
                        spend.setTimestamp(1, Timestamp.from(now));
                        spend.setString(2, tokenHash);
                        spend.executeUpdate();
                    }
                    UserService.revokeSessions(connection, id, "password reset", now);
                    audit.append(connection, request.audit("user:" + id), "password.reset", id.toString(), Map.of());
                    hooks.passwordChanged(connection, tenant, id, Optional.of(tokenHash));
                    return id;
                }
            }
        });
        events.announce(catalog, UserService.userEvent(tenant, userId));
    }

    private static BadRequest invalidResetToken() {
        return new BadRequest("invalid-reset-token", "the reset token is invalid, expired or already used");
    }

    private static void setPassword(Connection connection, UUID userId, String hash, Instant now) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ?, token_epoch = token_epoch + 1 WHERE id = ?")) {
            update.setString(1, hash);
            update.setTimestamp(2, Timestamp.from(now));
            update.setTimestamp(3, Timestamp.from(now));
            update.setObject(4, userId);
            update.executeUpdate();
        }
    }

    // ---- every request

    /**
     * Authenticates a request to a tenant route, cheaply and in this order: the tenant serves (resolved by the
     * caller); the token's header, key, signature, time and claims ({@link TokenService}); its session is live
     * (cached). Any failure is the same 401 with {@code WWW-Authenticate: Bearer error="invalid_token"}.
     */
    public Caller authenticate(TenantDirectory.ResolvedTenant resolved, String authorization, RequestContext request) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            metrics.tokenFailed(AuthMetrics.TokenFailure.MISSING);
            throw new Unauthorized("unauthorized", "an access token is required: Authorization: Bearer <token>", "Bearer");
        }
        Verified verified = verifyAccess(resolved, authorization.substring(7).strip());
        return new Caller(resolved.tenant(), verified.userId(), verified.state().user().role(), verified.sessionId(), request,
                verified.state().user());
    }

    /** An access token that verified and whose session is live, with that session's state (the user's current role). */
    record Verified(AccessToken token, UUID userId, UUID sessionId, SessionCache.SessionState state) {}

    /**
     * The checks of {@link #authenticate} on a bare access token, for introspection (RFC 7662): the same verifier
     * and the same session cache, so a session that ended is refused here exactly when it is refused on the API.
     *
     * @throws Unauthorized {@code invalid-token} whatever the reason
     */
    Verified verifyAccess(TenantDirectory.ResolvedTenant resolved, String bearer) {
        var tenant = resolved.tenant();
        String issuer = issuer(tenant.slug());
        AccessToken token = tokens.verify(bearer,
                new VerificationContext(issuer, issuer, tenant.id().toString(), resolved::key));
        UUID sessionId;
        UUID userId;
        try {
            sessionId = UUID.fromString(token.sessionId());
            userId = UUID.fromString(token.userId());
        } catch (IllegalArgumentException e) {
            metrics.tokenFailed(AuthMetrics.TokenFailure.CLAIMS);
            throw TokenService.invalidToken();
        }
        SessionCache.SessionState state = sessions.get(tenant.id(), sessionId, () -> loadSession(resolved, sessionId));
        if (!state.valid() || !state.userId().equals(userId)) {
            metrics.tokenFailed(AuthMetrics.TokenFailure.SESSION_ENDED);
            throw TokenService.invalidToken();
        }
        return new Verified(token, userId, sessionId, state);
    }

    private SessionCache.SessionState loadSession(TenantDirectory.ResolvedTenant resolved, UUID sessionId) {
        Instant now = clock.instant();
        return databases.withConnection(resolved.tenant(), connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT s.revoked_at IS NULL AND s.expires_at > ? AND NOT u.disabled AS valid,
                           u.id, u.email, u.role, u.disabled, u.created_at, u.updated_at, u.password_changed_at
                    FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?
                    """)) {
                select.setTimestamp(1, Timestamp.from(now));
                select.setObject(2, sessionId);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        return new SessionCache.SessionState(new UUID(0, 0), false, null);
                    }
                    User user = new User(rs.getObject("id", UUID.class), rs.getString("email"), rs.getString("role"),
                            rs.getBoolean("disabled"), null, rs.getTimestamp("created_at").toInstant(),
                            rs.getTimestamp("updated_at").toInstant(), rs.getTimestamp("password_changed_at").toInstant());
                    return new SessionCache.SessionState(user.id(), rs.getBoolean("valid"), user);
                }
            }
        });
    }

    private static BadRequest invalidGrant() {
        return new BadRequest("invalid-grant", INVALID_GRANT, Map.of("error", "invalid_grant"));
    }
}

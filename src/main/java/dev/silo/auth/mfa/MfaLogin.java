package dev.silo.auth.mfa;

import dev.silo.audit.TenantAudit;
import dev.silo.auth.AuthService;
import dev.silo.auth.LoginThrottle;
import dev.silo.auth.OpaqueTokens;
import dev.silo.auth.RequestContext;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Unauthorized;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantDirectory;
import dev.silo.user.User;
import dev.silo.user.UserService;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The second step of a login (issue 19.2). A login whose password is right, by a user with an authenticator, ends
 * in 401 {@code mfa-required} with a ticket; {@code POST /auth/mfa} with the ticket and a code (or a recovery code)
 * then gives the tokens exactly as a login does ({@link AuthService#completeLogin}).
 *
 * <p>A ticket is 256 random bits, stored as its SHA-256 in the tenant's database (so it is bound to the tenant and
 * the user), valid five minutes, spent by the first code accepted. A wrong code leaves it usable until it expires
 * but counts toward the {@link LoginThrottle} of the account and the address, exactly as a wrong password does, and
 * the throttle is checked first: guessing codes is as slow as guessing passwords. The account's count is cleared
 * only when the second factor passes, never by the password alone.
 *
 * <p>When the tenant requires MFA of the user and the user has none, the login ends in 401
 * {@code mfa-enrolment-required} with an enrolment ticket (ten minutes), as Keycloak's "configure OTP" required
 * action does: the ticket opens only {@code POST /auth/mfa/totp} (a new secret) and {@code POST /auth/mfa} (its first
 * code confirms it, and the answer is the tokens plus the recovery codes). No token is issued before that, so no
 * route of the API has to know about half-logged-in users.
 */
public final class MfaLogin implements AuthService.SecondFactor {
    static final Duration VERIFY_TICKET_LIFETIME = Duration.ofMinutes(5);
    static final Duration ENROL_TICKET_LIFETIME = Duration.ofMinutes(10);

    /** A login's tokens with the recovery codes of the enrolment it completed (shown once). */
    public record EnrolledTokens(String accessToken, String tokenType, long expiresIn, String refreshToken,
                                 List<String> recoveryCodes) {
        @Override
        public String toString() {
            return "EnrolledTokens[expires_in=" + expiresIn + "]";
        }
    }

    private final TenantDatabases databases;
    private final MfaService mfa;
    private final AuthService auth;
    private final LoginThrottle throttle;
    private final TenantAudit audit;
    private final Clock clock;

    public MfaLogin(TenantDatabases databases, MfaService mfa, AuthService auth, LoginThrottle throttle, TenantAudit audit,
                    Clock clock) {
        this.databases = requireNonNull(databases, "databases is null");
        this.mfa = requireNonNull(mfa, "mfa is null");
        this.auth = requireNonNull(auth, "auth is null");
        this.throttle = requireNonNull(throttle, "throttle is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** One query when the user has no second factor and needs none: what every login without MFA pays. */
    @Override
    public Optional<Unauthorized> challenge(TenantDirectory.ResolvedTenant resolved, User user, RequestContext request) {
        Tenant tenant = resolved.tenant();
        MfaStore.LoginState state = databases.withConnection(tenant, connection -> MfaStore.loginState(connection, user.id()));
        MfaStore.Purpose purpose;
        if (state.enrolled()) {
            purpose = MfaStore.Purpose.VERIFY;
        } else if (state.policy().appliesTo(user.role())) {
            purpose = MfaStore.Purpose.ENROL;
        } else {
            return Optional.empty();
        }
        String ticket = OpaqueTokens.generate(OpaqueTokens.Kind.MFA_TICKET);
        Duration lifetime = purpose == MfaStore.Purpose.VERIFY ? VERIFY_TICKET_LIFETIME : ENROL_TICKET_LIFETIME;
        Instant now = clock.instant();
        databases.inTransaction(tenant, connection -> {
            MfaStore.insertTicket(connection, OpaqueTokens.hash(ticket), user.id(), purpose, now, now.plus(lifetime));
            audit.append(connection, request.audit("user:" + user.id()), "login.mfa-challenge", user.id().toString(),
                    Map.of("purpose", purpose.wire()));
            return null;
        });
        Map<String, Object> extensions = new LinkedHashMap<>();
        extensions.put("ticket", ticket);
        extensions.put("expires_in", lifetime.toSeconds());
        if (purpose == MfaStore.Purpose.VERIFY) {
            extensions.put("methods", List.of("totp", "recovery_code"));
            return Optional.of(new Unauthorized("mfa-required", "the password is right; a second factor is required: "
                    + "POST /t/" + tenant.slug() + "/auth/mfa with this ticket and the code of your authenticator app "
                    + "(or a recovery code)", "Bearer", extensions));
        }
        return Optional.of(new Unauthorized("mfa-enrolment-required", "the password is right; this tenant requires a "
                + "second factor and you have none: POST /t/" + tenant.slug() + "/auth/mfa/totp with this ticket for a "
                + "secret, then POST /t/" + tenant.slug() + "/auth/mfa with the ticket and the app's first code",
                "Bearer", extensions));
    }

    /**
     * A new secret for the user of an enrolment ticket (the tenant requires MFA; the user has none yet).
     *
     * @throws Unauthorized {@code invalid-mfa-ticket}
     */
    public MfaService.TotpSetup startEnrolment(TenantDirectory.ResolvedTenant resolved, String ticket, RequestContext request) {
        Tenant tenant = resolved.tenant();
        MfaStore.Ticket found = live(tenant, ticket).filter(t -> t.purpose() == MfaStore.Purpose.ENROL)
                .orElseThrow(MfaLogin::invalidTicket);
        User user = user(tenant, found);
        return mfa.startEnrolment(tenant, user, request.audit("user:" + user.id()));
    }

    /**
     * The second step: the ticket and a code of the app, or a recovery code. The tokens exactly as a login gives
     * them ({@link AuthService.TokenResponse}), or {@link EnrolledTokens} when the ticket was an enrolment's.
     *
     * @throws Unauthorized {@code invalid-mfa-ticket} (log in again), {@code invalid-mfa-code} (wrong, or used already)
     * @throws dev.silo.platform.problem.TooManyRequests {@code login-throttled}
     */
    public Object verify(TenantDirectory.ResolvedTenant resolved, String ticket, String code, String recoveryCode,
                         RequestContext request) {
        if (ticket == null || (code == null) == (recoveryCode == null)) {
            throw new BadRequest("invalid-request", "fields 'ticket' and one of 'code' or 'recovery_code' are required");
        }
        Tenant tenant = resolved.tenant();
        MfaStore.Ticket found = live(tenant, ticket).orElseThrow(MfaLogin::invalidTicket);
        User user = user(tenant, found);
        boolean enrol = found.purpose() == MfaStore.Purpose.ENROL;
        if (enrol && recoveryCode != null) {
            throw new BadRequest("invalid-request", "an enrolment is completed with the first code of the app, not a recovery code");
        }
        String tenantKey = tenant.id().toString();
        String email = UserService.canonicalEmail(user.email());
        throttle.check(tenantKey, email, request.clientAddress());

        String ticketHash = OpaqueTokens.hash(ticket);
        TenantAudit.Context context = request.audit("user:" + user.id());
        record Outcome(boolean accepted, List<String> recoveryCodes, boolean ticketGone) {}
        Outcome outcome = databases.inTransaction(tenant, connection -> {
            Instant now = clock.instant();
            if (MfaStore.liveTicket(connection, ticketHash, now, true).isEmpty()) {
                return new Outcome(false, null, true); // spent by a concurrent request, or expired meanwhile
            }
            if (enrol) {
                List<String> codes = mfa.confirmPending(connection, tenant, user.id(), code, context);
                if (codes == null) {
                    audit.append(connection, context, "mfa.failure", user.id().toString(), Map.of("reason", "wrong-code",
                            "during", "enrolment"));
                    return new Outcome(false, null, false);
                }
                MfaStore.spendTicket(connection, ticketHash, now);
                return new Outcome(true, codes, false);
            }
            Optional<MfaStore.Enrolment> enrolment = MfaStore.enrolment(connection, user.id(), true).filter(MfaStore.Enrolment::confirmed);
            if (enrolment.isEmpty()) {
                return new Outcome(false, null, true); // reset by an admin since the ticket was issued
            }
            String reason;
            if (code != null) {
                Totp.Match match = Totp.check(mfa.secrets().open(tenant, user.id(), enrolment.get().sealed()), code, now,
                        enrolment.get().lastUsedStep());
                boolean used = match instanceof Totp.Accepted accepted && MfaStore.useStep(connection, user.id(), accepted.step());
                reason = used ? null : match instanceof Totp.Wrong ? "wrong-code" : "replayed-code";
            } else {
                Optional<String> normalized = RecoveryCodes.normalize(recoveryCode);
                boolean used = normalized.isPresent()
                        && MfaStore.useRecoveryCode(connection, user.id(), OpaqueTokens.hash(normalized.get()), now);
                reason = used ? null : "wrong-recovery-code";
                if (used) {
                    audit.append(connection, context, "mfa.recovery-code.use", user.id().toString(),
                            Map.of("left", MfaStore.recoveryCodesLeft(connection, user.id())));
                }
            }
            if (reason != null) {
                audit.append(connection, context, "mfa.failure", user.id().toString(), Map.of("reason", reason, "during", "login"));
                return new Outcome(false, null, false);
            }
            MfaStore.spendTicket(connection, ticketHash, now);
            return new Outcome(true, null, false);
        });
        if (outcome.ticketGone()) {
            throw invalidTicket();
        }
        if (!outcome.accepted()) {
            List<LoginThrottle.Lockout> lockouts = throttle.recordFailure(tenantKey, email, request.clientAddress());
            if (!lockouts.isEmpty()) {
                databases.inTransaction(tenant, connection -> {
                    for (LoginThrottle.Lockout lockout : lockouts) {
                        audit.append(connection, context, "login.lockout", user.id().toString(),
                                Map.of("scope", lockout.scope().name().toLowerCase(java.util.Locale.ROOT), "until",
                                        lockout.until().toString()));
                    }
                    return null;
                });
            }
            throw new Unauthorized("invalid-mfa-code", code != null
                    ? "the code is not your app's current one, or it was used already; wait for the next code"
                    : "the recovery code is wrong or was used already", "Bearer");
        }
        AuthService.TokenResponse tokens = auth.completeLogin(resolved, user, request, code != null ? "totp" : "recovery-code");
        if (outcome.recoveryCodes() == null) {
            return tokens;
        }
        return new EnrolledTokens(tokens.accessToken(), tokens.tokenType(), tokens.expiresIn(), tokens.refreshToken(),
                outcome.recoveryCodes());
    }

    private Optional<MfaStore.Ticket> live(Tenant tenant, String ticket) {
        if (!OpaqueTokens.isWellFormed(OpaqueTokens.Kind.MFA_TICKET, ticket)) {
            return Optional.empty();
        }
        return databases.withConnection(tenant,
                connection -> MfaStore.liveTicket(connection, OpaqueTokens.hash(ticket), clock.instant(), false));
    }

    /** The ticket's user, still able to log in: not disabled, and the password not changed since the ticket. */
    private User user(Tenant tenant, MfaStore.Ticket ticket) {
        return databases.withConnection(tenant, connection -> UserService.findById(connection, ticket.userId(), false))
                .filter(u -> !u.disabled() && !u.passwordChangedAt().isAfter(ticket.createdAt()))
                .orElseThrow(MfaLogin::invalidTicket);
    }

    static Unauthorized invalidTicket() {
        return new Unauthorized("invalid-mfa-ticket", "the MFA ticket is invalid, expired or already used: log in again",
                "Bearer");
    }
}

package dev.silo.auth.mfa;

import dev.silo.audit.TenantAudit;
import dev.silo.auth.Caller;
import dev.silo.auth.HashingGate;
import dev.silo.auth.LoginThrottle;
import dev.silo.auth.PasswordHasher;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;
import dev.silo.user.User;
import dev.silo.user.UserService;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * A user's own TOTP second factor (enrol, confirm, disable, new recovery codes), an admin's reset of a user's, and
 * the tenant's MFA requirement (issue 19.2). The login side is {@link MfaLogin}.
 *
 * <p>Enrolment is two steps, as in every authenticator flow: the secret is stored pending, and only the first code
 * the app shows confirms it (so a mistyped or unscanned secret never locks the user out). Confirming hands out the
 * ten recovery codes, once. Disabling needs a current code or the password; wrong ones count toward the login
 * throttle, like a wrong current password does.
 */
public final class MfaService {
    /** A new secret, as the user's app takes it. {@link #toString()} leaves the secret out. */
    public record TotpSetup(String secret, String otpauthUri, String algorithm, int digits, int period) {
        @Override
        public String toString() {
            return "TotpSetup[" + algorithm + " " + digits + " digits " + period + " s]";
        }
    }

    /** What a user (or an admin) sees of a user's second factor. */
    public record Status(String totp, Instant enabledAt, int recoveryCodesLeft, boolean required) {}

    /** The recovery codes of a confirmed enrolment, shown once. */
    public record RecoveryCodesView(List<String> recoveryCodes) {
        @Override
        public String toString() {
            return "RecoveryCodesView[" + recoveryCodes.size() + " codes]";
        }
    }

    private final TenantDatabases databases;
    private final TotpSecrets secrets;
    private final PasswordHasher hasher;
    private final HashingGate gate;
    private final LoginThrottle throttle;
    private final TenantAudit audit;
    private final Clock clock;

    public MfaService(TenantDatabases databases, dev.silo.tenant.TenantDataKeys keys, PasswordHasher hasher, HashingGate gate,
                      LoginThrottle throttle, TenantAudit audit, Clock clock) {
        this.databases = requireNonNull(databases, "databases is null");
        this.secrets = new TotpSecrets(requireNonNull(keys, "keys is null"));
        this.hasher = requireNonNull(hasher, "hasher is null");
        this.gate = requireNonNull(gate, "gate is null");
        this.throttle = requireNonNull(throttle, "throttle is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    TotpSecrets secrets() {
        return secrets;
    }

    // ---- the user's own

    /**
     * Starts (or restarts) an enrolment: a new secret, stored sealed and pending until a code confirms it.
     *
     * @throws Conflict {@code mfa-already-enrolled} when the user has a confirmed authenticator (disable it first)
     */
    public TotpSetup startEnrolment(Caller caller) {
        return startEnrolment(caller.tenant(), caller.user(), caller.audit());
    }

    TotpSetup startEnrolment(Tenant tenant, User user, TenantAudit.Context context) {
        byte[] secret = Totp.newSecret();
        byte[] sealed = secrets.seal(tenant, user.id(), secret);
        databases.inTransaction(tenant, connection -> {
            if (!MfaStore.savePending(connection, user.id(), sealed, clock.instant())) {
                throw alreadyEnrolled();
            }
            audit.append(connection, context, "mfa.totp.enrol-start", user.id().toString(), Map.of());
            return null;
        });
        String issuer = tenant.name() == null || tenant.name().isBlank() ? tenant.slug() : tenant.name();
        return new TotpSetup(Totp.base32(secret), Totp.uri(issuer, user.email(), secret), "SHA1", Totp.DIGITS,
                (int) Totp.STEP.toSeconds());
    }

    /**
     * Confirms the pending enrolment with a code of the app; the answer holds the ten recovery codes, shown once.
     *
     * @throws Conflict {@code mfa-enrolment-not-started} without a pending enrolment, {@code mfa-already-enrolled}
     *     when it is confirmed already
     * @throws BadRequest {@code invalid-mfa-code} when the code is not the app's current one
     */
    public RecoveryCodesView confirm(Caller caller, String code) {
        requireCode(code);
        return databases.inTransaction(caller.tenant(), connection -> {
            List<String> codes = confirmPending(connection, caller.tenant(), caller.userId(), code, caller.audit());
            if (codes == null) {
                throw invalidCode();
            }
            return new RecoveryCodesView(codes);
        });
    }

    /**
     * Confirms the user's pending enrolment with {@code code} in the caller's transaction: the recovery codes, or null
     * when the code is wrong (nothing written then).
     */
    List<String> confirmPending(Connection connection, Tenant tenant, UUID userId, String code, TenantAudit.Context context)
            throws SQLException {
        MfaStore.Enrolment enrolment = MfaStore.enrolment(connection, userId, true).orElseThrow(MfaService::notStarted);
        if (enrolment.confirmed()) {
            throw alreadyEnrolled();
        }
        Instant now = clock.instant();
        Totp.Match match = Totp.check(secrets.open(tenant, userId, enrolment.sealed()), code, now, enrolment.lastUsedStep());
        if (!(match instanceof Totp.Accepted accepted) || !MfaStore.useStep(connection, userId, accepted.step())) {
            return null;
        }
        MfaStore.confirm(connection, userId, now);
        List<String> codes = RecoveryCodes.generate();
        MfaStore.replaceRecoveryCodes(connection, userId, codes, now);
        audit.append(connection, context, "mfa.totp.enrol", userId.toString(), Map.of("recovery_codes", codes.size()));
        return codes;
    }

    /**
     * Turns the caller's second factor off, proven by a current code or the password (one of them).
     *
     * @throws BadRequest {@code invalid-mfa-code} or {@code wrong-password} (both counted by the login throttle)
     * @throws Conflict {@code mfa-not-enrolled} when there is nothing to disable
     */
    public void disable(Caller caller, String code, String password) {
        if ((code == null) == (password == null)) {
            throw new BadRequest("invalid-request", "give one of 'code' (a current code of your app) or 'password'");
        }
        Tenant tenant = caller.tenant();
        String tenantKey = tenant.id().toString();
        String email = UserService.canonicalEmail(caller.user().email());
        throttle.check(tenantKey, email, caller.request().clientAddress());
        if (password != null) {
            User user = databases.withConnection(tenant, connection -> UserService.findById(connection, caller.userId(), false))
                    .orElseThrow(() -> new NotFound("user-not-found", "no such user in this tenant"));
            if (!gate.run(() -> hasher.verify(password, user.passwordHash()))) {
                throttle.recordFailure(tenantKey, email, caller.request().clientAddress());
                throw new BadRequest("wrong-password", "the password is incorrect");
            }
        }
        boolean proven = databases.inTransaction(tenant, connection -> {
            MfaStore.Enrolment enrolment = MfaStore.enrolment(connection, caller.userId(), true)
                    .filter(MfaStore.Enrolment::confirmed).orElseThrow(MfaService::notEnrolled);
            if (code != null) {
                Totp.Match match = Totp.check(secrets.open(tenant, caller.userId(), enrolment.sealed()), code, clock.instant(),
                        enrolment.lastUsedStep());
                if (!(match instanceof Totp.Accepted)) {
                    audit.append(connection, caller.audit(), "mfa.failure", caller.userId().toString(),
                            Map.of("reason", match instanceof Totp.Replayed ? "replayed-code" : "wrong-code", "during", "disable"));
                    return false;
                }
            }
            MfaStore.remove(connection, caller.userId());
            audit.append(connection, caller.audit(), "mfa.totp.disable", caller.userId().toString(),
                    Map.of("proof", code != null ? "code" : "password"));
            return true;
        });
        if (!proven) {
            throttle.recordFailure(tenantKey, email, caller.request().clientAddress());
            throw invalidCode();
        }
    }

    /**
     * Replaces the caller's recovery codes with ten new ones (the old ones stop working), proven by a current code.
     *
     * @throws BadRequest {@code invalid-mfa-code} (counted by the login throttle)
     */
    public RecoveryCodesView newRecoveryCodes(Caller caller, String code) {
        requireCode(code);
        Tenant tenant = caller.tenant();
        String tenantKey = tenant.id().toString();
        String email = UserService.canonicalEmail(caller.user().email());
        throttle.check(tenantKey, email, caller.request().clientAddress());
        List<String> codes = databases.inTransaction(tenant, connection -> {
            MfaStore.Enrolment enrolment = MfaStore.enrolment(connection, caller.userId(), true)
                    .filter(MfaStore.Enrolment::confirmed).orElseThrow(MfaService::notEnrolled);
            Totp.Match match = Totp.check(secrets.open(tenant, caller.userId(), enrolment.sealed()), code, clock.instant(),
                    enrolment.lastUsedStep());
            if (!(match instanceof Totp.Accepted accepted) || !MfaStore.useStep(connection, caller.userId(), accepted.step())) {
                return null;
            }
            List<String> fresh = RecoveryCodes.generate();
            MfaStore.replaceRecoveryCodes(connection, caller.userId(), fresh, clock.instant());
            audit.append(connection, caller.audit(), "mfa.recovery-codes.replace", caller.userId().toString(), Map.of());
            return fresh;
        });
        if (codes == null) {
            throttle.recordFailure(tenantKey, email, caller.request().clientAddress());
            throw invalidCode();
        }
        return new RecoveryCodesView(codes);
    }

    /** The second factor of {@code userId} (the caller's own, or any user's for an admin: the routes check). */
    public Status status(Tenant tenant, UUID userId) {
        return databases.withConnection(tenant, connection -> {
            User user = UserService.findById(connection, userId, false).orElseThrow(MfaService::userNotFound);
            var enrolment = MfaStore.enrolment(connection, userId, false);
            String state = enrolment.isEmpty() ? "off" : enrolment.get().confirmed() ? "on" : "pending";
            return new Status(state, enrolment.map(MfaStore.Enrolment::confirmedAt).orElse(null),
                    MfaStore.recoveryCodesLeft(connection, userId), MfaStore.policy(connection).appliesTo(user.role()));
        });
    }

    // ---- admins

    /**
     * Removes a user's second factor (lost phone and recovery codes): authenticator, recovery codes and pending
     * tickets. Audited; the user's next login goes without a second factor, or enrols one if the tenant requires it.
     *
     * @throws NotFound {@code user-not-found}
     */
    public void reset(Caller admin, UUID userId) {
        requireAdmin(admin);
        databases.inTransaction(admin.tenant(), connection -> {
            UserService.findById(connection, userId, true).orElseThrow(MfaService::userNotFound);
            boolean had = MfaStore.remove(connection, userId);
            audit.append(connection, admin.audit(), "mfa.reset", userId.toString(), Map.of("had_totp", had));
            return null;
        });
    }

    public MfaPolicy policy(Caller admin) {
        requireAdmin(admin);
        return databases.withConnection(admin.tenant(), MfaStore::policy);
    }

    /**
     * Sets who must have a second factor. Sessions already open stay; the requirement applies at each next login,
     * where a user who must but has none is asked to enrol before getting tokens ({@link MfaLogin}).
     *
     * @throws BadRequest {@code invalid-mfa-policy}
     */
    public MfaPolicy setPolicy(Caller admin, String required) {
        requireAdmin(admin);
        MfaPolicy policy = MfaPolicy.parse(required);
        databases.inTransaction(admin.tenant(), connection -> {
            MfaPolicy before = MfaStore.policy(connection);
            MfaStore.setPolicy(connection, policy, clock.instant(), admin.actor());
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("required", policy.wire());
            detail.put("before", before.wire());
            audit.append(connection, admin.audit(), "settings.mfa.update", null, detail);
            return null;
        });
        return policy;
    }

    private static void requireAdmin(Caller caller) {
        if (!caller.admin()) {
            throw new dev.silo.platform.problem.Forbidden("forbidden", "this route needs the admin role");
        }
    }

    static void requireCode(String code) {
        if (code == null) {
            throw new BadRequest("invalid-request", "field 'code' (the 6 digits your authenticator app shows) is required");
        }
    }

    static BadRequest invalidCode() {
        return new BadRequest("invalid-mfa-code", "the code is not your app's current one, or it was used already; "
                + "wait for the next code");
    }

    static Conflict alreadyEnrolled() {
        return new Conflict("mfa-already-enrolled", "an authenticator is enrolled already; disable it first to enrol another");
    }

    static Conflict notStarted() {
        return new Conflict("mfa-enrolment-not-started", "no enrolment is pending: start one with POST .../mfa/totp");
    }

    static Conflict notEnrolled() {
        return new Conflict("mfa-not-enrolled", "no authenticator is enrolled");
    }

    static NotFound userNotFound() {
        return new NotFound("user-not-found", "no such user in this tenant");
    }
}

package dev.silo.mail;

import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.audit.TenantAudit;
import dev.silo.platform.db.Sql;
import dev.silo.auth.AccountHooks;
import dev.silo.auth.Caller;
import dev.silo.auth.HashingGate;
import dev.silo.auth.OpaqueTokens;
import dev.silo.auth.PasswordHasher;
import dev.silo.auth.PasswordPolicy;
import dev.silo.auth.RequestContext;
import dev.silo.platform.config.MailConfig;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.Forbidden;
import dev.silo.platform.problem.Unavailable;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantDirectory;
import dev.silo.user.User;
import dev.silo.user.UserService;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.text.Normalizer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The account flows that go through e-mail (issue 19.1): forgot password, invitations, e-mail verification, and the
 * notice of a changed password. Each writes its token (hashed) and its mail (to the outbox) in one transaction with
 * its audit entry; the {@link MailWorker} sends the mail after the commit, so no request waits for SMTP.
 *
 * <p>Forgot-password and resend-verification answer the same (202) whether the address belongs to an account or
 * not, and do the same kind of work either way (a token made and wrapped, one transaction with an audit entry), so
 * neither the status nor the timing tells an attacker which addresses have accounts. A second request for one
 * address within a minute queues no second mail, so the routes cannot be used to flood a mailbox.
 */
public final class AccountMail implements AccountHooks {
    static final Duration RESET_LIFETIME = Duration.ofHours(1);
    static final Duration INVITATION_LIFETIME = Duration.ofDays(7);
    static final Duration VERIFICATION_LIFETIME = Duration.ofHours(24);
    static final Duration FLOOD_GUARD = Duration.ofMinutes(1);

    private final Optional<MailWorker> worker;
    private final MailPending pending;
    private final MailConfig config;
    private final MailOutbox outbox;
    private final Envelope envelope;
    private final TenantDatabases databases;
    private final UserService users;
    private final PasswordHasher hasher;
    private final PasswordPolicy policy;
    private final HashingGate gate;
    private final TenantAudit audit;
    private final PlatformAudit platformAudit;
    private final DataSource catalog;
    private final Clock clock;

    AccountMail(Optional<MailWorker> worker, MailPending pending, MailConfig config, MailOutbox outbox, Envelope envelope, TenantDatabases databases,
                UserService users, PasswordHasher hasher, PasswordPolicy policy, HashingGate gate, TenantAudit audit,
                PlatformAudit platformAudit, DataSource catalog, Clock clock) {
        this.platformAudit = requireNonNull(platformAudit, "platformAudit is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.worker = requireNonNull(worker, "worker is null");
        this.pending = requireNonNull(pending, "pending is null");
        this.config = requireNonNull(config, "config is null");
        this.outbox = requireNonNull(outbox, "outbox is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.users = requireNonNull(users, "users is null");
        this.hasher = requireNonNull(hasher, "hasher is null");
        this.policy = requireNonNull(policy, "policy is null");
        this.gate = requireNonNull(gate, "gate is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    static Unavailable notConfigured() {
        return new Unavailable("mail-not-configured", "this Silo sends no e-mail (SILO_SMTP_URL is not set); an admin can "
                + "still issue a reset token with POST /t/{tenant}/users/{id}/password-reset", Duration.ofHours(1));
    }

    private MailWorker requireWorker() {
        return worker.orElseThrow(AccountMail::notConfigured);
    }

    private String senderDomain(TenantMailSettings settings) {
        String from = settings.mailFrom().orElse(config.platformFrom());
        return from.substring(from.indexOf('@') + 1);
    }

    private static String instant(Instant instant) {
        return instant.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    // ---- forgot password

    /** Mails a one-time reset token (valid an hour) to the address if it belongs to an enabled user; else nothing. */
    public void forgotPassword(TenantDirectory.ResolvedTenant resolved, String email, RequestContext request) {
        MailWorker mail = requireWorker();
        Tenant tenant = resolved.tenant();
        String normalized = UserService.normalizeEmail(email);
        String token = OpaqueTokens.generate(OpaqueTokens.Kind.PASSWORD_RESET);
        boolean queued = databases.inTransaction(tenant, connection -> {
            Instant now = clock.instant();
            Optional<User> user = users.findByEmail(connection, normalized).filter(found -> !found.disabled());
            boolean send = user.isPresent()
                    && !MailOutbox.recentlyQueued(connection, MailTemplates.Kind.PASSWORD_RESET, user.get().email(), now.minus(FLOOD_GUARD));
            pending.flag(tenant.id()); // whether or not a mail is written: the same work either way
            if (send) {
                Instant expires = now.plus(RESET_LIFETIME);
                try (PreparedStatement insert = connection.prepareStatement(
                        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at, mailed) VALUES (?, ?, ?, ?, true)")) {
                    insert.setString(1, OpaqueTokens.hash(token));
                    insert.setObject(2, user.get().id());
                    insert.setTimestamp(3, Timestamp.from(now));
                    insert.setTimestamp(4, Timestamp.from(expires));
                    insert.executeUpdate();
                }
                outbox.enqueue(connection, tenant, MailTemplates.Kind.PASSWORD_RESET, user.get().email(), user.get().id(),
                        params(user.get(), Map.of("expires_at", instant(expires))), Optional.of(token),
                        senderDomain(TenantMailSettings.read(connection)), now);
            } else {
                // The same kind of work as a mail queued: a wrap of the token, so the answer takes as long.
                envelope.wrapString(token, "mail-outbox:" + tenant.id() + ":none");
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("mailed", send);
            audit.append(connection, request.audit(null), "password.forgot", user.map(found -> found.id().toString()).orElse(null), detail);
            return send;
        });
        if (queued) {
            mail.hint(tenant);
        }
    }

    private static Map<String, String> params(User user, Map<String, String> more) {
        Map<String, String> params = new LinkedHashMap<>(more);
        params.put("email", user.email());
        params.put("user_id", user.id().toString());
        return params;
    }

    // ---- invitations

    /** An invitation, as the admin sees it (the token only goes to the invitee's mailbox). */
    public record Invitation(UUID id, String email, String role, Instant createdAt, Instant expiresAt) {}

    /**
     * Invites {@code email} to become a user with {@code role}: a token valid for 7 days is mailed; an earlier pending
     * invitation of the same address ends.
     *
     * @throws Forbidden for a caller who is not an admin
     * @throws Conflict {@code email-taken} when a user has the address
     */
    public Invitation invite(Caller caller, String email, String role) {
        if (!caller.admin()) {
            throw new Forbidden("forbidden", "only the tenant's admins invite users");
        }
        MailWorker mail = requireWorker();
        String normalized = UserService.normalizeEmail(email);
        String display = Normalizer.normalize(email.strip(), Normalizer.Form.NFC);
        String granted = role == null ? User.MEMBER : role;
        if (!User.ADMIN.equals(granted) && !User.MEMBER.equals(granted)) {
            throw new BadRequest("invalid-role", "role must be 'admin' or 'member'");
        }
        Tenant tenant = caller.tenant();
        String token = OpaqueTokens.generate(OpaqueTokens.Kind.INVITATION);
        Invitation invitation = databases.inTransaction(tenant, connection -> {
            if (users.findByEmail(connection, normalized).isPresent()) {
                throw new Conflict("email-taken", "a user with this e-mail already exists in this tenant");
            }
            Instant now = clock.instant();
            try (PreparedStatement revoke = connection.prepareStatement(
                    "UPDATE invitations SET revoked_at = ? WHERE email_normalized = ? AND accepted_at IS NULL AND revoked_at IS NULL")) {
                revoke.setTimestamp(1, Timestamp.from(now));
                revoke.setString(2, normalized);
                revoke.executeUpdate();
            }
            UUID id = UUID.randomUUID();
            Instant expires = now.plus(INVITATION_LIFETIME);
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO invitations (id, token_hash, email, email_normalized, role, invited_by, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)) {
                insert.setObject(1, id);
                insert.setString(2, OpaqueTokens.hash(token));
                insert.setString(3, display);
                insert.setString(4, normalized);
                insert.setString(5, granted);
                insert.setObject(6, caller.userId());
                insert.setTimestamp(7, Timestamp.from(now));
                insert.setTimestamp(8, Timestamp.from(expires));
                insert.executeUpdate();
            }
            Map<String, String> params = new LinkedHashMap<>();
            params.put("email", display);
            params.put("role", granted);
            params.put("expires_at", instant(expires));
            params.put("invitation_id", id.toString());
            pending.flag(tenant.id());
            outbox.enqueue(connection, tenant, MailTemplates.Kind.INVITATION, display, null, params, Optional.of(token),
                    senderDomain(TenantMailSettings.read(connection)), now);
            audit.append(connection, caller.audit(), "invitation.create", id.toString(), Map.of("role", granted));
            return new Invitation(id, display, granted, now, expires);
        });
        mail.hint(tenant);
        return invitation;
    }

    /**
     * The invitee becomes a user with the invited role and {@code password}, their address verified (they read the
     * mail); the token is spent.
     *
     * @throws BadRequest {@code invalid-invitation-token}, or the password policy's problem
     * @throws Conflict {@code email-taken} when a user took the address meanwhile
     */
    public User acceptInvitation(TenantDirectory.ResolvedTenant resolved, String token, String password, RequestContext request) {
        if (!OpaqueTokens.isWellFormed(OpaqueTokens.Kind.INVITATION, token) || password == null) {
            throw invalidInvitation();
        }
        Tenant tenant = resolved.tenant();
        String tokenHash = OpaqueTokens.hash(token);
        String normalized = databases.withConnection(tenant, connection -> pendingInvitation(connection, tokenHash, false)
                .orElseThrow(AccountMail::invalidInvitation).normalized());
        policy.check(password, normalized);
        // No connection is held while bcrypt runs; the write checks the token again under its row lock.
        String hash = gate.run(() -> hasher.hash(password));
        return databases.inTransaction(tenant, connection -> {
            PendingInvitation invitation = pendingInvitation(connection, tokenHash, true).orElseThrow(AccountMail::invalidInvitation);
            if (users.findByEmail(connection, invitation.normalized()).isPresent()) {
                throw new Conflict("email-taken", "a user with this e-mail already exists in this tenant");
            }
            Instant now = clock.instant();
            UUID id = UUID.randomUUID();
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO users (id, email, email_normalized, password_hash, role, created_at, updated_at, password_changed_at,
                                       email_verified_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)) {
                insert.setObject(1, id);
                insert.setString(2, invitation.email());
                insert.setString(3, invitation.normalized());
                insert.setString(4, hash);
                insert.setString(5, invitation.role());
                for (int i = 6; i <= 9; i++) {
                    insert.setTimestamp(i, Timestamp.from(now));
                }
                insert.executeUpdate();
            }
            try (PreparedStatement spend = connection.prepareStatement("UPDATE invitations SET accepted_at = ? WHERE id = ?")) {
                spend.setTimestamp(1, Timestamp.from(now));
                spend.setObject(2, invitation.id());
                spend.executeUpdate();
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("role", invitation.role());
            detail.put("invitation_id", invitation.id().toString());
            audit.append(connection, request.audit("user:" + id), "user.create", id.toString(), detail);
            audit.append(connection, request.audit("user:" + id), "invitation.accept", invitation.id().toString(), Map.of());
            return new User(id, invitation.email(), invitation.role(), false, hash, now, now, now);
        });
    }

    /** The invitations not yet accepted, revoked or expired, oldest first (at most 500). */
    public java.util.List<Invitation> pendingInvitations(Caller caller) {
        if (!caller.admin()) {
            throw new Forbidden("forbidden", "only the tenant's admins see invitations");
        }
        return databases.withConnection(caller.tenant(), connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT id, email, role, created_at, expires_at FROM invitations
                    WHERE accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at, id LIMIT 500
                    """)) {
                select.setTimestamp(1, Timestamp.from(clock.instant()));
                java.util.List<Invitation> invitations = new java.util.ArrayList<>();
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        invitations.add(new Invitation(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                                rs.getTimestamp(4).toInstant(), rs.getTimestamp(5).toInstant()));
                    }
                }
                return invitations;
            }
        });
    }

    /**
     * Ends a pending invitation: its token stops working.
     *
     * @throws dev.silo.platform.problem.NotFound {@code invitation-not-found} when no pending invitation has the id
     */
    public void revokeInvitation(Caller caller, UUID id) {
        if (!caller.admin()) {
            throw new Forbidden("forbidden", "only the tenant's admins revoke invitations");
        }
        databases.inTransaction(caller.tenant(), connection -> {
            try (PreparedStatement revoke = connection.prepareStatement(
                    "UPDATE invitations SET revoked_at = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL")) {
                revoke.setTimestamp(1, Timestamp.from(clock.instant()));
                revoke.setObject(2, id);
                if (revoke.executeUpdate() == 0) {
                    throw new dev.silo.platform.problem.NotFound("invitation-not-found", "no pending invitation with this id");
                }
            }
            audit.append(connection, caller.audit(), "invitation.revoke", id.toString(), Map.of());
            return null;
        });
    }

    private record PendingInvitation(UUID id, String email, String normalized, String role) {}

    private Optional<PendingInvitation> pendingInvitation(Connection connection, String tokenHash, boolean lock) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT id, email, email_normalized, role FROM invitations
                WHERE token_hash = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?
                """ + (lock ? " FOR UPDATE" : ""))) {
            select.setString(1, tokenHash);
            select.setTimestamp(2, Timestamp.from(clock.instant()));
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.of(new PendingInvitation(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                        rs.getString(4))) : Optional.empty();
            }
        }
    }

    private static BadRequest invalidInvitation() {
        return new BadRequest("invalid-invitation-token", "the invitation token is invalid, expired, revoked or already used");
    }

    // ---- e-mail verification

    /** Mails a verification token (valid 24 hours) if the address belongs to an enabled user not yet verified. */
    public void resendVerification(TenantDirectory.ResolvedTenant resolved, String email, RequestContext request) {
        MailWorker mail = requireWorker();
        Tenant tenant = resolved.tenant();
        String normalized = UserService.normalizeEmail(email);
        String token = OpaqueTokens.generate(OpaqueTokens.Kind.EMAIL_VERIFICATION);
        boolean queued = databases.inTransaction(tenant, connection -> {
            Instant now = clock.instant();
            Optional<User> user = users.findByEmail(connection, normalized).filter(found -> !found.disabled());
            boolean send = user.isPresent() && !verified(connection, user.get().id())
                    && !MailOutbox.recentlyQueued(connection, MailTemplates.Kind.EMAIL_VERIFICATION, user.get().email(), now.minus(FLOOD_GUARD));
            pending.flag(tenant.id());
            if (send) {
                queueVerification(connection, tenant, user.get(), token, now);
            } else {
                envelope.wrapString(token, "mail-outbox:" + tenant.id() + ":none");
            }
            audit.append(connection, request.audit(null), "email.verification.request",
                    user.map(found -> found.id().toString()).orElse(null), Map.of("mailed", send));
            return send;
        });
        if (queued) {
            mail.hint(tenant);
        }
    }

    private void queueVerification(Connection connection, Tenant tenant, User user, String token, Instant now) throws SQLException {
        Instant expires = now.plus(VERIFICATION_LIFETIME);
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO email_verifications (token_hash, user_id, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")) {
            insert.setString(1, OpaqueTokens.hash(token));
            insert.setObject(2, user.id());
            insert.setString(3, user.email());
            insert.setTimestamp(4, Timestamp.from(now));
            insert.setTimestamp(5, Timestamp.from(expires));
            insert.executeUpdate();
        }
        outbox.enqueue(connection, tenant, MailTemplates.Kind.EMAIL_VERIFICATION, user.email(), user.id(),
                params(user, Map.of("expires_at", instant(expires))), Optional.of(token),
                senderDomain(TenantMailSettings.read(connection)), now);
    }

    /**
     * Marks the address verified with a mailed token (works without SMTP configured too: the token exists).
     *
     * @throws BadRequest {@code invalid-verification-token}
     */
    public void verifyEmail(TenantDirectory.ResolvedTenant resolved, String token, RequestContext request) {
        if (!OpaqueTokens.isWellFormed(OpaqueTokens.Kind.EMAIL_VERIFICATION, token)) {
            throw invalidVerification();
        }
        Tenant tenant = resolved.tenant();
        UUID userId = databases.inTransaction(tenant, connection -> {
            Instant now = clock.instant();
            // The token proves the address it was mailed to: void if the user's address changed since.
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT v.user_id FROM email_verifications v JOIN users u ON u.id = v.user_id AND u.email = v.email
                    WHERE v.token_hash = ? AND v.used_at IS NULL AND v.expires_at > ? FOR UPDATE OF v
                    """)) {
                select.setString(1, OpaqueTokens.hash(token));
                select.setTimestamp(2, Timestamp.from(now));
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw invalidVerification();
                    }
                    UUID id = rs.getObject(1, UUID.class);
                    try (PreparedStatement spend = connection.prepareStatement(
                            "UPDATE email_verifications SET used_at = ? WHERE token_hash = ?")) {
                        spend.setTimestamp(1, Timestamp.from(now));
                        spend.setString(2, OpaqueTokens.hash(token));
                        spend.executeUpdate();
                    }
                    markVerified(connection, id, now);
                    audit.append(connection, request.audit("user:" + id), "email.verify", id.toString(), Map.of());
                    return id;
                }
            }
        });
        requireNonNull(userId);
    }

    private static BadRequest invalidVerification() {
        return new BadRequest("invalid-verification-token", "the verification token is invalid, expired or already used");
    }

    private static void markVerified(Connection connection, UUID userId, Instant now) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE users SET email_verified_at = ? WHERE id = ? AND email_verified_at IS NULL")) {
            update.setTimestamp(1, Timestamp.from(now));
            update.setObject(2, userId);
            update.executeUpdate();
        }
    }

    static boolean verified(Connection connection, UUID userId) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT email_verified_at IS NOT NULL FROM users WHERE id = ?")) {
            select.setObject(1, userId);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    // ---- hooks into logins and password changes

    @Override
    public void beforeLogin(Connection connection, Tenant tenant, User user) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT COALESCE((SELECT require_verified_email FROM mail_settings WHERE id = 1), false),
                       (SELECT email_verified_at IS NOT NULL FROM users WHERE id = ?)
                """)) {
            select.setObject(1, user.id());
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1) && !rs.getBoolean(2)) {
                    throw new Forbidden("email-not-verified", "this tenant requires a verified e-mail address; follow the link "
                            + "in the verification mail (POST /t/" + tenant.slug() + "/auth/verify-email/resend sends a new one)");
                }
            }
        }
    }

    @Override
    public void passwordChanged(Connection connection, Tenant tenant, UUID userId, Optional<String> resetTokenHash) throws SQLException {
        Instant now = clock.instant();
        if (resetTokenHash.isPresent()) {
            try (PreparedStatement select = connection.prepareStatement("SELECT mailed FROM password_resets WHERE token_hash = ?")) {
                select.setString(1, resetTokenHash.get());
                try (ResultSet rs = select.executeQuery()) {
                    if (rs.next() && rs.getBoolean(1)) {
                        markVerified(connection, userId, now); // they read the mail at their address
                    }
                }
            }
        }
        if (worker.isEmpty()) {
            return;
        }
        Optional<User> user = UserService.findById(connection, userId, false);
        if (user.isEmpty()) {
            return;
        }
        pending.flag(tenant.id());
        outbox.enqueue(connection, tenant, MailTemplates.Kind.PASSWORD_CHANGED, user.get().email(), userId,
                params(user.get(), Map.of("changed_at", instant(now))), Optional.empty(),
                senderDomain(TenantMailSettings.read(connection)), now);
        worker.get().wakeLater(tenant);
    }

    // ---- settings

    /** What the tenant's admin (or an operator) sees of its mail settings. */
    public Map<String, Object> settings(Tenant tenant) {
        Map<String, Object> view = new LinkedHashMap<>(databases.withConnection(tenant, TenantMailSettings::read)
                .view(config.platformFrom()));
        view.put("smtp_configured", config.configured());
        return view;
    }

    /** A change of the settings; absent fields stay as they are, a template set to null returns to Silo's default. */
    public record SettingsChange(Optional<Optional<String>> mailFrom, Optional<Boolean> requireVerifiedEmail,
                                 Map<MailTemplates.Kind, Optional<MailTemplates.Template>> templates) {
        public SettingsChange {
            requireNonNull(mailFrom, "mailFrom is null");
            requireNonNull(requireVerifiedEmail, "requireVerifiedEmail is null");
            templates = Map.copyOf(templates);
        }
    }

    /**
     * Applies {@code change} for an admin ({@code caller} present) or an operator (empty: only {@code mail_from}).
     *
     * @throws Conflict {@code verify-your-email-first} when an admin whose own address is unverified would require
     *                  verified addresses (and so lock themselves out)
     */
    Map<String, Object> updateSettings(Tenant tenant, Optional<Caller> caller, TenantAudit.Context context, SettingsChange change) {
        change.mailFrom().flatMap(value -> value).ifPresent(from -> {
            if (!MailConfig.ADDRESS.matcher(from).matches()) {
                throw new BadRequest("invalid-mail-from", "mail_from must be a plain address such as no-reply@example.com");
            }
        });
        change.templates().forEach((kind, template) -> template.ifPresent(value -> MailTemplates.validate(kind, value)));
        if (change.requireVerifiedEmail().orElse(false) && !config.configured()) {
            throw notConfigured();
        }
        databases.inTransaction(tenant, connection -> {
            Instant now = clock.instant();
            TenantMailSettings current = TenantMailSettings.lock(connection, now);
            boolean require = change.requireVerifiedEmail().orElse(current.requireVerifiedEmail());
            if (require && !current.requireVerifiedEmail() && caller.isPresent() && !verified(connection, caller.get().userId())) {
                throw new Conflict("verify-your-email-first", "verify your own e-mail address first (POST /t/" + tenant.slug()
                        + "/auth/verify-email/resend): with require_verified_email on, unverified users cannot log in");
            }
            Map<MailTemplates.Kind, MailTemplates.Template> templates = new java.util.EnumMap<>(MailTemplates.Kind.class);
            templates.putAll(current.templates());
            change.templates().forEach((kind, template) -> template.ifPresentOrElse(value -> templates.put(kind, value),
                    () -> templates.remove(kind)));
            TenantMailSettings next = new TenantMailSettings(change.mailFrom().orElse(current.mailFrom()), require, templates);
            next.write(connection, now);
            Map<String, Object> detail = new LinkedHashMap<>();
            change.mailFrom().ifPresent(value -> detail.put("mail_from", value.orElse(null)));
            change.requireVerifiedEmail().ifPresent(value -> detail.put("require_verified_email", value));
            if (!change.templates().isEmpty()) {
                detail.put("templates", change.templates().keySet().stream().map(MailTemplates.Kind::wireName).sorted().toList());
            }
            audit.append(connection, context, "settings.mail.update", "tenant:" + tenant.slug(), detail);
            return null;
        });
        return settings(tenant);
    }

    /**
     * An operator sets the tenant's sender: recorded in the platform audit (committed after the tenant's change) and,
     * with the operator as actor, in the tenant's audit, where its admins see it.
     */
    Map<String, Object> updateByOperator(Tenant tenant, Actor actor, SettingsChange change) {
        requireNonNull(actor, "actor is null");
        TenantAudit.Context context = new TenantAudit.Context(actor.name(), actor.clientIp(), null, actor.requestId());
        return Sql.inTransaction(catalog, catalogConnection -> {
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("tenant_id", tenant.id().toString());
            change.mailFrom().ifPresent(value -> detail.put("mail_from", value.orElse(null)));
            platformAudit.append(catalogConnection, actor, "tenant.mail.update", "tenant:" + tenant.slug(), detail);
            return updateSettings(tenant, Optional.empty(), context, change);
        });
    }
}

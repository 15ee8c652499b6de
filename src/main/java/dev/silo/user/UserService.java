package dev.silo.user;

import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.HashingGate;
import dev.silo.auth.OpaqueTokens;
import dev.silo.auth.PasswordHasher;
import dev.silo.auth.PasswordPolicy;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;

import javax.sql.DataSource;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.text.Normalizer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The users of one tenant, in that tenant's own database (claim C1): the same e-mail in two tenants is two
 * unrelated accounts. E-mails are compared in one canonical form ({@link #canonicalEmail}). Disabling a user or
 * changing its password ends its sessions, and every node learns of it at once.
 *
 * <p>A tenant never loses its last active admin: every change that could (disable, demote, delete) takes the
 * tenant database's "admins" advisory lock in its transaction, then counts the other active admins, so two
 * admins demoting each other at the same moment cannot both succeed. Operators (claim C19) create only the first
 * admin of a tenant that has none, under the same lock; each such creation is in the platform audit and the
 * tenant's audit.
 */
public final class UserService {
    private static final Pattern EMAIL = Pattern.compile("[^@\\s]{1,64}@[^@\\s]{1,189}");
    /** A transaction-level advisory lock of the tenant database guarding the set of admins. */
    private static final long ADMINS_LOCK = 7215010;
    private static final String COLUMNS = "id, email, role, disabled, password_hash, created_at, updated_at, password_changed_at";

    private final TenantDatabases databases;
    private final DataSource catalog;
    private final PasswordHasher hasher;
    private final HashingGate gate;
    private final PasswordPolicy policy;
    private final TenantAudit audit;
    private final PlatformAudit platformAudit;
    private final Clock clock;
    private final Duration resetLifetime;
    private final CatalogEvents events;

    public UserService(TenantDatabases databases, DataSource catalog, PasswordHasher hasher, HashingGate gate,
                       PasswordPolicy policy, TenantAudit audit, PlatformAudit platformAudit, Clock clock, Duration resetLifetime,
                       CatalogEvents events) {
        this.events = requireNonNull(events, "events is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.hasher = requireNonNull(hasher, "hasher is null");
        this.gate = requireNonNull(gate, "gate is null");
        this.platformAudit = requireNonNull(platformAudit, "platformAudit is null");
        this.policy = requireNonNull(policy, "policy is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.resetLifetime = requireNonNull(resetLifetime, "resetLifetime is null");
    }

    /**
     * The one canonical form of an e-mail, used wherever e-mails are compared (login, creation, reset, throttle):
     * trimmed, Unicode NFC (so the composed and decomposed spellings of {@code zoë} are one address), lower-cased
     * with {@link Locale#ROOT} (never the machine's locale: {@code I} is always {@code i}, and {@code İ} is always
     * {@code i} followed by U+0307, as Unicode's default case mapping says), then NFC again because lower-casing can
     * produce a sequence NFC composes. It does not validate; {@link #normalizeEmail} does.
     */
    public static String canonicalEmail(String email) {
        requireNonNull(email, "email is null");
        String composed = Normalizer.normalize(email.strip(), Normalizer.Form.NFC);
        return Normalizer.normalize(composed.toLowerCase(Locale.ROOT), Normalizer.Form.NFC);
    }

    /**
     * {@link #canonicalEmail} of a valid address: {@code name@domain}, at most 64 + 1 + 189 characters, no
     * whitespace and no control, format, private-use, unassigned or lone surrogate code point (U+0000 included:
     * PostgreSQL cannot store it, and invisible characters would let two accounts look identical).
     *
     * @throws BadRequest {@code invalid-email}
     */
    public static String normalizeEmail(String email) {
        if (email == null) {
            throw new BadRequest("invalid-email", "an e-mail address is required");
        }
        String normalized = canonicalEmail(email);
        if (!EMAIL.matcher(normalized).matches()) {
            throw new BadRequest("invalid-email", "not an e-mail address (expected name@domain, at most 254 characters)");
        }
        if (normalized.codePoints().anyMatch(UserService::forbiddenInEmail)) {
            throw new BadRequest("invalid-email",
                    "an e-mail address cannot contain spaces, control characters (such as U+0000) or invisible characters");
        }
        return normalized;
    }

    private static boolean forbiddenInEmail(int codePoint) {
        if (Character.isWhitespace(codePoint) || Character.isSpaceChar(codePoint)) {
            return true;
        }
        return switch (Character.getType(codePoint)) {
            case Character.CONTROL, Character.FORMAT, Character.PRIVATE_USE, Character.SURROGATE, Character.UNASSIGNED -> true;
            default -> false;
        };
    }

    static String validateRole(String role) {
        if (!User.ADMIN.equals(role) && !User.MEMBER.equals(role)) {
            throw new BadRequest("invalid-role", "role must be 'admin' or 'member'");
        }
        return role;
    }

    /** Creates a user, by a tenant admin (or a test): no rule about existing admins. */
    public User create(Tenant tenant, String email, String role, String password, TenantAudit.Context context) {
        NewUser user = prepare(email, role, password);
        return insert(tenant, user, context, Map.of("role", role), connection -> {});
    }

    /**
     * Creates a user on an operator's request (the {@code /admin} route, {@code silo users create}): only in a tenant
     * that has no admin yet, typically its first admin in a sign-up flow, unless {@code force} (the command line's
     * recovery path, audited as {@code tenant.user.create.forced}). Checked under the admins lock, so of two
     * concurrent first-admin creations one wins and the other is refused. Recorded in the platform audit (committed
     * only after the tenant's transaction) and, with the operator as actor, in the tenant's audit.
     *
     * @throws Conflict {@code tenant-has-admins} when the tenant has an admin and {@code force} is false
     */
    public User createByOperator(Tenant tenant, String email, String role, String password, Actor actor, boolean force) {
        requireNonNull(actor, "actor is null");
        NewUser user = prepare(email, role, password);
        TenantAudit.Context context = new TenantAudit.Context(actor.name(), actor.clientIp(),
                actor.name().startsWith("cli:") ? "silo-cli" : null, actor.requestId());
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("role", role);
        detail.put("by_operator", true);
        if (force) {
            detail.put("forced", true);
        }
        String action = force ? "tenant.user.create.forced" : "tenant.user.create";
        return Sql.inTransaction(catalog, catalogConnection -> {
            // The platform entry is appended first and commits after the tenant's transaction: a refused or failed
            // creation leaves no entry, a committed one is never unrecorded unless the catalog commit itself fails.
            Map<String, Object> platformDetail = new LinkedHashMap<>(detail);
            platformDetail.put("tenant_id", tenant.id().toString());
            platformDetail.put("user_id", user.id().toString());
            platformAudit.append(catalogConnection, actor, action, "tenant:" + tenant.slug(), platformDetail);
            return insert(tenant, user, context, detail, connection -> {
                if (!force && hasAdmin(connection)) {
                    throw new Conflict("tenant-has-admins", "tenant '" + tenant.slug() + "' already has an admin: operators"
                            + " create only the first admin of a tenant; its admins create further users");
                }
            });
        });
    }

    private record NewUser(UUID id, String email, String normalized, String role, String hash) {
        @Override
        public String toString() {
            return "NewUser[" + id + " " + role + "]";
        }
    }

    @FunctionalInterface
    private interface Check {
        void run(Connection connection) throws SQLException;
    }

    /** Validates and hashes outside any transaction: no connection is held while bcrypt runs. */
    private NewUser prepare(String email, String role, String password) {
        String normalized = normalizeEmail(email);
        validateRole(role);
        policy.check(password, normalized);
        String hash = gate.run(() -> hasher.hash(password));
        // Shown as typed, but composed (NFC) so that it displays and compares like its canonical form.
        String display = Normalizer.normalize(email.strip(), Normalizer.Form.NFC);
        return new NewUser(UUID.randomUUID(), display, normalized, role, hash);
    }

    private User insert(Tenant tenant, NewUser user, TenantAudit.Context context, Map<String, Object> detail, Check check) {
        Instant now = clock.instant();
        try {
            databases.inTransaction(tenant, connection -> {
                lockAdmins(connection);
                check.run(connection);
                try (PreparedStatement insert = connection.prepareStatement("""
                        INSERT INTO users (id, email, email_normalized, password_hash, role, created_at, updated_at, password_changed_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """)) {
                    insert.setObject(1, user.id());
                    insert.setString(2, user.email());
                    insert.setString(3, user.normalized());
                    insert.setString(4, user.hash());
                    insert.setString(5, user.role());
                    insert.setTimestamp(6, Timestamp.from(now));
                    insert.setTimestamp(7, Timestamp.from(now));
                    insert.setTimestamp(8, Timestamp.from(now));
                    insert.executeUpdate();
                }
                audit.append(connection, context, "user.create", user.id().toString(), detail);
                return null;
            });
        } catch (Conflict e) {
            if (!e.type().equals("conflict")) {
                throw e;
            }
            throw new Conflict("email-taken", "a user with this e-mail already exists in this tenant");
        }
        return new User(user.id(), user.email(), user.role(), false, user.hash(), now, now, now);
    }

    /** Serialises, per tenant database, every transaction that adds, demotes, disables or deletes users. */
    private static void lockAdmins(Connection connection) throws SQLException {
        try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
            lock.setLong(1, ADMINS_LOCK);
            lock.execute();
        }
    }

    private static boolean hasAdmin(Connection connection) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')");
             ResultSet rs = select.executeQuery()) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** Refuses a change that takes {@code user} out of the active admins when no other active admin is left. */
    private static void requireAnotherActiveAdmin(Connection connection, User user) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND NOT disabled AND id <> ?)")) {
            select.setObject(1, user.id());
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    throw new Conflict("last-admin", "this would leave the tenant without an active admin;"
                            + " make another user an admin (or enable one) first");
                }
            }
        }
    }

    private static boolean activeAdmin(String role, boolean disabled) {
        return User.ADMIN.equals(role) && !disabled;
    }

    public Optional<User> findByEmail(Connection connection, String normalizedEmail) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS + " FROM users WHERE email_normalized = ?")) {
            select.setString(1, normalizedEmail);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
    }

    public static Optional<User> findById(Connection connection, UUID id, boolean forUpdate) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS + " FROM users WHERE id = ?"
                + (forUpdate ? " FOR UPDATE" : ""))) {
            select.setObject(1, id);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
    }

    public User get(Tenant tenant, UUID id) {
        return databases.withConnection(tenant, connection -> findById(connection, id, false)).orElseThrow(UserService::notFound);
    }

    public record Page(List<User> users, String nextCursor) {}

    /** Years 1 to 9999: well inside what PostgreSQL's timestamptz and java.sql.Timestamp hold. */
    private static final Instant CURSOR_MIN = Instant.parse("0001-01-01T00:00:00Z");
    private static final Instant CURSOR_MAX = Instant.parse("9999-12-31T23:59:59.999999Z");

    /** Users by creation time; the opaque cursor continues after the last user of the previous page. */
    public Page list(Tenant tenant, int limit, Optional<String> cursor) {
        Timestamp afterTime = Timestamp.from(Instant.EPOCH);
        UUID afterId = new UUID(0, 0);
        if (cursor.isPresent()) {
            try {
                String[] parts = new String(Base64.getUrlDecoder().decode(cursor.get()), StandardCharsets.UTF_8).split("\\|");
                Instant instant = Instant.parse(parts[0]);
                // a time PostgreSQL cannot hold (or Timestamp cannot: +1000000000-12-31...) is no cursor of ours
                if (instant.isBefore(CURSOR_MIN) || instant.isAfter(CURSOR_MAX)) {
                    throw new IllegalArgumentException("cursor time out of range");
                }
                afterTime = Timestamp.from(instant);
                afterId = UUID.fromString(parts[1]);
            } catch (RuntimeException e) {
                throw new BadRequest("invalid-cursor", "the cursor is not one this API returned");
            }
        }
        Timestamp time = afterTime;
        UUID id = afterId;
        List<User> users = databases.withConnection(tenant, connection -> {
            List<User> page = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS
                    + " FROM users WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?")) {
                select.setTimestamp(1, time);
                select.setObject(2, id);
                select.setInt(3, limit + 1);
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        page.add(read(rs));
                    }
                }
            }
            return page;
        });
        String next = null;
        if (users.size() > limit) {
            users = users.subList(0, limit);
            User last = users.getLast();
            next = Base64.getUrlEncoder().withoutPadding().encodeToString(
                    (last.createdAt() + "|" + last.id()).getBytes(StandardCharsets.UTF_8));
        }
        return new Page(users, next);
    }

    /**
     * Changes role and/or disabled; disabling ends the user's sessions at once.
     *
     * @throws Conflict {@code last-admin} when it would leave the tenant without an active admin
     */
    public User update(Tenant tenant, UUID id, Optional<String> role, Optional<Boolean> disabled, TenantAudit.Context context) {
        role.ifPresent(UserService::validateRole);
        User updated = databases.inTransaction(tenant, connection -> {
            lockAdmins(connection);
            User user = findById(connection, id, true).orElseThrow(UserService::notFound);
            String newRole = role.orElse(user.role());
            boolean newDisabled = disabled.orElse(user.disabled());
            if (activeAdmin(user.role(), user.disabled()) && !activeAdmin(newRole, newDisabled)) {
                requireAnotherActiveAdmin(connection, user);
            }
            Instant now = clock.instant();
            try (PreparedStatement update = connection.prepareStatement(
                    "UPDATE users SET role = ?, disabled = ?, updated_at = ?, token_epoch = token_epoch + ? WHERE id = ?")) {
                update.setString(1, newRole);
                update.setBoolean(2, newDisabled);
                update.setTimestamp(3, Timestamp.from(now));
                update.setInt(4, newDisabled && !user.disabled() ? 1 : 0);
                update.setObject(5, id);
                update.executeUpdate();
            }
            if (newDisabled && !user.disabled()) {
                revokeSessions(connection, id, "user disabled", now);
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            role.ifPresent(r -> detail.put("role", r));
            disabled.ifPresent(d -> detail.put("disabled", d));
            audit.append(connection, context, "user.update", id.toString(), detail);
            return new User(id, user.email(), newRole, newDisabled, user.passwordHash(), user.createdAt(), now, user.passwordChangedAt());
        });
        events.announce(catalog, userEvent(tenant, id));
        return updated;
    }

    /** @throws Conflict {@code last-admin} when it would leave the tenant without an active admin */
    public void delete(Tenant tenant, UUID id, TenantAudit.Context context) {
        databases.inTransaction(tenant, connection -> {
            lockAdmins(connection);
            User user = findById(connection, id, true).orElseThrow(UserService::notFound);
            if (activeAdmin(user.role(), user.disabled())) {
                requireAnotherActiveAdmin(connection, user);
            }
            try (PreparedStatement delete = connection.prepareStatement("DELETE FROM users WHERE id = ?")) {
                delete.setObject(1, id);
                delete.executeUpdate();
            }
            audit.append(connection, context, "user.delete", id.toString(), Map.of());
            return null;
        });
        events.announce(catalog, userEvent(tenant, id));
    }

    public record ResetToken(String token, Instant expiresAt) {
        @Override
        public String toString() {
            return "ResetToken[expires " + expiresAt + "]";
        }
    }

    /** A one-time password-reset token for an admin to hand over (Silo sends no e-mail). */
    public ResetToken issueReset(Tenant tenant, UUID id, TenantAudit.Context context) {
        String token = OpaqueTokens.generate(OpaqueTokens.Kind.PASSWORD_RESET);
        Instant now = clock.instant();
        Instant expires = now.plus(resetLifetime);
        databases.inTransaction(tenant, connection -> {
            findById(connection, id, false).orElseThrow(UserService::notFound);
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")) {
                insert.setString(1, OpaqueTokens.hash(token));
                insert.setObject(2, id);
                insert.setTimestamp(3, Timestamp.from(now));
                insert.setTimestamp(4, Timestamp.from(expires));
                insert.executeUpdate();
            }
            audit.append(connection, context, "user.password-reset.issue", id.toString(), Map.of());
            return null;
        });
        return new ResetToken(token, expires);
    }

    /** Ends every session of the user; their access tokens stop working at the next check. */
    public static void revokeSessions(Connection connection, UUID userId, String reason, Instant now) throws SQLException {
        try (PreparedStatement revoke = connection.prepareStatement(
                "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL")) {
            revoke.setTimestamp(1, Timestamp.from(now));
            revoke.setString(2, reason);
            revoke.setObject(3, userId);
            revoke.executeUpdate();
        }
    }

    public static String userEvent(Tenant tenant, UUID userId) {
        return "user:" + tenant.id() + ":" + userId;
    }

    static User read(ResultSet rs) throws SQLException {
        return new User(rs.getObject("id", UUID.class), rs.getString("email"), rs.getString("role"), rs.getBoolean("disabled"),
                rs.getString("password_hash"), rs.getTimestamp("created_at").toInstant(), rs.getTimestamp("updated_at").toInstant(),
                rs.getTimestamp("password_changed_at").toInstant());
    }

    private static NotFound notFound() {
        return new NotFound("user-not-found", "no such user in this tenant");
    }
}

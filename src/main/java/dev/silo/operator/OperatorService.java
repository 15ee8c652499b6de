package dev.silo.operator;

import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.NotFound;

import javax.sql.DataSource;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Operators: Silo's own staff and automation, authenticated by API keys and never by passwords (claim C20).
 *
 * <p>A key is {@code silo_op_} followed by 256 random bits (base64url); only its SHA-256 is stored. A fast
 * hash is right here: the key is random and long, so there is nothing to brute-force, and every admin request
 * can check it without bcrypt's cost.
 */
public final class OperatorService {
    public static final String KEY_PREFIX = "silo_op_";
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9._-]{1,39}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final DataSource catalog;
    private final PlatformAudit audit;
    private final Clock clock;

    public OperatorService(DataSource catalog, PlatformAudit audit, Clock clock) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    public record Operator(UUID id, String name, String keyHint, Instant createdAt, Instant revokedAt, Instant lastUsedAt) {}

    /** A new operator and its key, which is shown this once and never stored. */
    public record CreatedOperator(Operator operator, String key) {
        @Override
        public String toString() {
            return "CreatedOperator[" + operator.name() + "]";
        }
    }

    public CreatedOperator create(String name, Actor actor) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new BadRequest("invalid-operator-name",
                    "an operator name is 2-40 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter");
        }
        byte[] random = new byte[32];
        RANDOM.nextBytes(random);
        String key = KEY_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        Operator operator = new Operator(UUID.randomUUID(), name, key.substring(0, KEY_PREFIX.length() + 4) + "...",
                clock.instant(), null, null);
        try {
            Sql.inTransaction(catalog, connection -> {
                try (PreparedStatement insert = connection.prepareStatement("""
                        INSERT INTO operators (id, name, key_hash, key_hint, created_at) VALUES (?, ?, ?, ?, ?)
                        """)) {
                    insert.setObject(1, operator.id());
                    insert.setString(2, name);
                    insert.setString(3, hash(key));
                    insert.setString(4, operator.keyHint());
                    insert.setTimestamp(5, Timestamp.from(operator.createdAt()));
                    insert.executeUpdate();
                }
                audit.append(connection, actor, "operator.create", "operator:" + name, Map.of());
                return null;
            });
        } catch (Conflict e) {
            throw new Conflict("operator-exists", "an operator named '" + name + "' already exists");
        }
        return new CreatedOperator(operator, key);
    }

    public List<Operator> list() {
        return Sql.withConnection(catalog, connection -> {
            List<Operator> operators = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT id, name, key_hint, created_at, revoked_at, last_used_at FROM operators ORDER BY name
                    """); ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    operators.add(read(rs));
                }
            }
            return operators;
        });
    }

    public boolean anyActive() {
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT 1 FROM operators WHERE revoked_at IS NULL LIMIT 1");
                 ResultSet rs = select.executeQuery()) {
                return rs.next();
            }
        });
    }

    public void revoke(String name, Actor actor) {
        Sql.inTransaction(catalog, connection -> {
            try (PreparedStatement update = connection.prepareStatement(
                    "UPDATE operators SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")) {
                update.setTimestamp(1, Timestamp.from(clock.instant()));
                update.setString(2, name);
                if (update.executeUpdate() == 0) {
                    throw new NotFound("operator-not-found", "no active operator named '" + name + "'");
                }
            }
            audit.append(connection, actor, "operator.revoke", "operator:" + name, Map.of());
            return null;
        });
    }

    /**
     * Records the e-mail address the operator would have as a user of a tenant (canonical form, see
     * {@code UserService.normalizeEmail}), so that a staff-access request of theirs is never approved by an account
     * with that address (issue 17). An operator needs one to request access.
     */
    public void setEmail(String name, String canonicalEmail, Actor actor) {
        requireNonNull(canonicalEmail, "canonicalEmail is null");
        Sql.inTransaction(catalog, connection -> {
            try (PreparedStatement update = connection.prepareStatement(
                    "UPDATE operators SET email = ? WHERE name = ? AND revoked_at IS NULL")) {
                update.setString(1, canonicalEmail);
                update.setString(2, name);
                if (update.executeUpdate() == 0) {
                    throw new NotFound("operator-not-found", "no active operator named '" + name + "'");
                }
            }
            audit.append(connection, actor, "operator.set-email", "operator:" + name, Map.of("email", canonicalEmail));
            return null;
        });
    }

    /** The active operator holding {@code key}, if any. Records when the key was last used (at most once a minute). */
    public Optional<Operator> authenticate(String key) {
        if (key == null || !key.startsWith(KEY_PREFIX) || key.length() > 100) {
            return Optional.empty();
        }
        String keyHash = hash(key);
        return Sql.withConnection(catalog, connection -> {
            Operator operator;
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT id, name, key_hint, created_at, revoked_at, last_used_at FROM operators
                    WHERE key_hash = ? AND revoked_at IS NULL
                    """)) {
                select.setString(1, keyHash);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.empty();
                    }
                    operator = read(rs);
                }
            }
            Instant now = clock.instant();
            if (operator.lastUsedAt() == null || operator.lastUsedAt().isBefore(now.minus(Duration.ofMinutes(1)))) {
                try (PreparedStatement touch = connection.prepareStatement("UPDATE operators SET last_used_at = ? WHERE id = ?")) {
                    touch.setTimestamp(1, Timestamp.from(now));
                    touch.setObject(2, operator.id());
                    touch.executeUpdate();
                }
            }
            return Optional.of(operator);
        });
    }

    private static Operator read(ResultSet rs) throws SQLException {
        return new Operator(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("key_hint"),
                rs.getTimestamp("created_at").toInstant(), instant(rs.getTimestamp("revoked_at")), instant(rs.getTimestamp("last_used_at")));
    }

    private static Instant instant(Timestamp timestamp) {
        return timestamp == null ? null : timestamp.toInstant();
    }

    static String hash(String key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

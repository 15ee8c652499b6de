package dev.silo.auth;

import dev.silo.audit.TenantAudit;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;
import dev.silo.user.UserService;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The login sessions of a user, as the user (or an admin of the tenant) sees and ends them (issue 19.3).
 *
 * <p>A session is one refresh-token family ({@code sessions} row); its access tokens carry its id. Ending one
 * is what logout does: the row is marked revoked in the tenant's database and the end is announced through the
 * catalog events, which drop the session from the {@link SessionCache} of every node, so its access tokens and
 * its refresh token are refused at once (within {@link SessionCache#MAX_STALENESS} on a node that missed the
 * event).
 *
 * <p>"Last used" is the time the session last got tokens: its login or its latest refresh (the newest
 * {@code refresh_tokens} row of the family). Authenticated requests write nothing, so a busy API costs no
 * write per request; a session that only spends its access token looks unused until its next refresh, at most
 * one access-token lifetime later.
 */
public final class SessionService {
    /** One session as its owner sees it; {@code device} is the user agent the login sent, as given (at most 300 characters). */
    public record SessionView(UUID id, String device, String clientAddress, Instant createdAt, Instant lastUsedAt,
                              Instant expiresAt, boolean current) {}

    /** The most sessions one listing shows (newest first): a bound on the answer, not on logins. */
    static final int MAX_LISTED = 500;

    private static final String LIVE_SESSIONS = """
            SELECT s.id, s.user_agent, s.client_ip, s.created_at, s.expires_at,
                   COALESCE((SELECT max(r.created_at) FROM refresh_tokens r WHERE r.session_id = s.id), s.created_at) AS last_used
            FROM sessions s
            WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ?
            ORDER BY s.created_at DESC, s.id
            LIMIT ?
            """;

    private static final String END_ONE = """
            UPDATE sessions SET revoked_at = ?, revoked_reason = ?
            WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?
            RETURNING id
            """;

    private static final String END_ALL_BUT = """
            UPDATE sessions SET revoked_at = ?, revoked_reason = ?
            WHERE user_id = ? AND revoked_at IS NULL AND id IS DISTINCT FROM ?
            RETURNING id
            """;

    private final TenantDatabases databases;
    private final DataSource catalog;
    private final CatalogEvents events;
    private final TenantAudit audit;
    private final Clock clock;

    public SessionService(TenantDatabases databases, DataSource catalog, CatalogEvents events, TenantAudit audit, Clock clock) {
        this.databases = requireNonNull(databases, "databases is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.events = requireNonNull(events, "events is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /**
     * The live sessions of {@code userId}, newest first (at most {@value #MAX_LISTED}); {@code current} marks the caller's own session.
     *
     * @throws NotFound {@code user-not-found} when the user is not of this tenant
     */
    public List<SessionView> list(Caller caller, UUID userId) {
        requireNonNull(caller, "caller is null");
        requireNonNull(userId, "userId is null");
        return databases.withConnection(caller.tenant(), connection -> {
            requireUser(connection, userId);
            List<SessionView> sessions = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(LIVE_SESSIONS)) {
                select.setObject(1, userId);
                select.setTimestamp(2, Timestamp.from(clock.instant()));
                select.setInt(3, MAX_LISTED);
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        UUID id = rs.getObject("id", UUID.class);
                        sessions.add(new SessionView(id, rs.getString("user_agent"), rs.getString("client_ip"),
                                rs.getTimestamp("created_at").toInstant(), rs.getTimestamp("last_used").toInstant(),
                                rs.getTimestamp("expires_at").toInstant(), id.equals(caller.sessionId())));
                    }
                }
            }
            return sessions;
        });
    }

    /**
     * Ends one live session of {@code userId} (audited as {@code session.end}).
     *
     * @throws NotFound {@code user-not-found} for a user of another tenant, {@code session-not-found} for a session
     *                  that is not a live one of this user (another user's, another tenant's, ended, made up)
     */
    public void end(Caller caller, UUID userId, UUID sessionId) {
        requireNonNull(caller, "caller is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(sessionId, "sessionId is null");
        Tenant tenant = caller.tenant();
        databases.inTransaction(tenant, connection -> {
            requireUser(connection, userId);
            Instant now = clock.instant();
            try (PreparedStatement end = connection.prepareStatement(END_ONE)) {
                end.setTimestamp(1, Timestamp.from(now));
                end.setString(2, reason(caller, userId));
                end.setObject(3, sessionId);
                end.setObject(4, userId);
                end.setTimestamp(5, Timestamp.from(now));
                try (ResultSet rs = end.executeQuery()) {
                    if (!rs.next()) {
                        throw sessionNotFound();
                    }
                }
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("session_id", sessionId.toString());
            detail.put("by", caller.userId().equals(userId) ? "self" : "admin");
            audit.append(connection, caller.audit(), "session.end", userId.toString(), detail);
            return null;
        });
        events.announce(catalog, "session:" + tenant.id() + ":" + sessionId);
    }

    /**
     * Ends every live session of {@code userId} but {@code keep} (audited as {@code session.end-all} with the count).
     *
     * @return how many sessions ended
     * @throws NotFound {@code user-not-found} when the user is not of this tenant
     */
    public int endAll(Caller caller, UUID userId, Optional<UUID> keep) {
        requireNonNull(caller, "caller is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(keep, "keep is null");
        Tenant tenant = caller.tenant();
        List<UUID> ended = databases.inTransaction(tenant, connection -> {
            requireUser(connection, userId);
            List<UUID> ids = new ArrayList<>();
            try (PreparedStatement end = connection.prepareStatement(END_ALL_BUT)) {
                end.setTimestamp(1, Timestamp.from(clock.instant()));
                end.setString(2, reason(caller, userId));
                end.setObject(3, userId);
                end.setObject(4, keep.orElse(null));
                try (ResultSet rs = end.executeQuery()) {
                    while (rs.next()) {
                        ids.add(rs.getObject(1, UUID.class));
                    }
                }
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("ended", ids.size());
            keep.ifPresent(id -> detail.put("kept_session_id", id.toString()));
            detail.put("by", caller.userId().equals(userId) ? "self" : "admin");
            audit.append(connection, caller.audit(), "session.end-all", userId.toString(), detail);
            return ids;
        });
        for (UUID id : ended) {
            events.announce(catalog, "session:" + tenant.id() + ":" + id);
        }
        return ended.size();
    }

    private static String reason(Caller caller, UUID userId) {
        return caller.userId().equals(userId) ? "ended by the user" : "ended by an admin";
    }

    private static void requireUser(Connection connection, UUID userId) throws SQLException {
        if (UserService.findById(connection, userId, false).isEmpty()) {
            throw new NotFound("user-not-found", "no such user in this tenant");
        }
    }

    static NotFound sessionNotFound() {
        return new NotFound("session-not-found", "no such live session of this user");
    }
}

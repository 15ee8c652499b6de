package dev.silo.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.silo.platform.db.CatalogEvents;

import java.time.Duration;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * Whether an access token's session is still valid: not logged out, not revoked by a password change, its
 * user not disabled. Checked on every request from a per-node cache, so authentication normally touches no
 * database. Logout, password changes and disabling announce themselves through catalog events, which drop the
 * entries on every node within milliseconds; {@link #MAX_STALENESS} bounds the delay if an event is lost
 * (a node reconnecting drops everything).
 */
public final class SessionCache {
    /** The worst-case delay before a revocation is seen by a node that missed its event. */
    public static final Duration MAX_STALENESS = Duration.ofSeconds(10);

    /** The session's user (without its password hash), cached with it so {@code /me} needs no query either. */
    public record SessionState(UUID userId, boolean valid, dev.silo.user.User user) {}

    private record Key(UUID tenantId, UUID sessionId) {}

    private final Cache<Key, SessionState> cache = Caffeine.newBuilder()
            .maximumSize(200_000)
            .expireAfterWrite(MAX_STALENESS)
            .build();

    public SessionState get(UUID tenantId, UUID sessionId, Supplier<SessionState> loader) {
        return cache.get(new Key(tenantId, sessionId), key -> loader.get());
    }

    /** {@code session:<tenant>:<session>}, {@code user:<tenant>:<user>}, {@code tenant:<tenant>:<slug>} or {@code *}. */
    public void onEvent(String payload) {
        if (CatalogEvents.RESYNC.equals(payload)) {
            cache.invalidateAll();
            return;
        }
        String[] parts = payload.split(":", 3);
        if (parts.length != 3) {
            return;
        }
        try {
            UUID tenantId = UUID.fromString(parts[1]);
            switch (parts[0]) {
                case "session" -> cache.invalidate(new Key(tenantId, UUID.fromString(parts[2])));
                case "user" -> {
                    UUID userId = UUID.fromString(parts[2]);
                    cache.asMap().entrySet().removeIf(e -> e.getKey().tenantId().equals(tenantId) && e.getValue().userId().equals(userId));
                }
                case "tenant" -> cache.asMap().keySet().removeIf(key -> key.tenantId().equals(tenantId));
                default -> { }
            }
        } catch (IllegalArgumentException e) {
            // not an event of ours
        }
    }
}

package dev.silo.user;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/** A user of one tenant, as its database holds it. {@link #toString()} leaves the password hash out. */
public record User(UUID id, String email, String role, boolean disabled, String passwordHash, Instant createdAt,
                   Instant updatedAt, Instant passwordChangedAt) {
    public static final String ADMIN = "admin";
    public static final String MEMBER = "member";

    /** What the API shows: never the hash. */
    public Map<String, Object> view() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", id);
        view.put("email", email);
        view.put("role", role);
        view.put("disabled", disabled);
        view.put("created_at", createdAt);
        view.put("updated_at", updatedAt);
        view.put("password_changed_at", passwordChangedAt);
        return view;
    }

    @Override
    public String toString() {
        return "User[" + id + " " + role + (disabled ? " disabled" : "") + "]";
    }
}

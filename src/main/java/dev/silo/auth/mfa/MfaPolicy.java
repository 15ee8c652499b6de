package dev.silo.auth.mfa;

import dev.silo.platform.problem.BadRequest;
import dev.silo.user.User;

import java.util.Locale;
import java.util.Map;

/** Who in a tenant must have a second factor to log in: a tenant setting its admins change. */
public enum MfaPolicy {
    NONE,
    ADMINS,
    EVERYONE;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    boolean appliesTo(String role) {
        return this == EVERYONE || (this == ADMINS && User.ADMIN.equals(role));
    }

    /** @throws BadRequest {@code invalid-mfa-policy} for anything but {@code none}, {@code admins}, {@code everyone} */
    static MfaPolicy parse(String value) {
        if (value != null) {
            for (MfaPolicy policy : values()) {
                if (policy.wire().equals(value)) {
                    return policy;
                }
            }
        }
        throw new BadRequest("invalid-mfa-policy", "'required' is one of none, admins, everyone",
                Map.of("field", "required"));
    }
}

package dev.silo.auth.mfa;

import dev.silo.platform.problem.Conflict;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDataKeys;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * TOTP secrets at rest (claim C12): sealed with Tink AEAD under the tenant's data keyset, with the tenant and the user
 * as associated data, so a sealed secret copied to another user's row or another tenant's database does not open.
 * A purged tenant's keyset is destroyed, and its users' secrets with it.
 */
final class TotpSecrets {
    private final TenantDataKeys keys;

    TotpSecrets(TenantDataKeys keys) {
        this.keys = requireNonNull(keys, "keys is null");
    }

    byte[] seal(Tenant tenant, UUID userId, byte[] secret) {
        try {
            return keys.aead(tenant).encrypt(secret, associatedData(tenant.id(), userId));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot seal a TOTP secret of tenant " + tenant.id(), e);
        }
    }

    /**
     * @throws Conflict {@code integrity-error} when the stored value was not sealed for this tenant and user (copied or
     *     altered in the database): retrying cannot help, and a 5xx would hide the tampering
     */
    byte[] open(Tenant tenant, UUID userId, byte[] sealed) {
        try {
            return keys.aead(tenant).decrypt(sealed, associatedData(tenant.id(), userId));
        } catch (GeneralSecurityException e) {
            throw new Conflict("integrity-error", "the TOTP secret of user " + userId + " failed its integrity check: it "
                    + "was not sealed for this user (copied or altered in the database); an admin can reset the user's MFA",
                    Map.of("user_id", userId.toString()));
        }
    }

    static byte[] associatedData(UUID tenantId, UUID userId) {
        return ("silo/mfa/totp/v1/" + tenantId + "/" + userId).getBytes(StandardCharsets.UTF_8);
    }
}

package dev.silo.tenant;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.crypto.tink.Aead;
import com.google.crypto.tink.RegistryConfiguration;
import dev.silo.platform.crypto.Envelope;

import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The AEAD primitive of a tenant's data keyset (claim C12), for the features that seal a value with it (the TOTP
 * secrets of {@code dev.silo.auth.mfa}; the records' {@code FieldCipher} has its own cache of the same primitive).
 *
 * <p>The keyset is unwrapped by the master key once per tenant and the primitive kept in a bounded cache:
 * unwrapping on every use would cost an AES operation and a protobuf parse each time.
 */
public final class TenantDataKeys {
    private final Envelope envelope;
    private final Cache<UUID, Aead> aeads = Caffeine.newBuilder()
            .maximumSize(10_000)
            .expireAfterAccess(Duration.ofHours(1))
            .build();

    public TenantDataKeys(Envelope envelope) {
        this.envelope = requireNonNull(envelope, "envelope is null");
    }

    /** @throws IllegalStateException when the tenant has no data keyset (purged) or it does not unwrap */
    public Aead aead(Tenant tenant) {
        requireNonNull(tenant, "tenant is null");
        return aeads.get(tenant.id(), id -> {
            if (tenant.dataKeysetWrapped() == null) {
                throw new IllegalStateException("tenant " + tenant.id() + " has no data keyset");
            }
            try {
                return envelope.unwrapKeyset(tenant.dataKeysetWrapped(), tenant.keysetContext())
                        .getPrimitive(RegistryConfiguration.get(), Aead.class);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("cannot build the data primitive of tenant " + tenant.id(), e);
            }
        });
    }
}

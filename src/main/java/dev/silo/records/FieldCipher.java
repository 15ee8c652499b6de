package dev.silo.records;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.crypto.tink.Aead;
import com.google.crypto.tink.RegistryConfiguration;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.problem.Conflict;
import dev.silo.tenant.Tenant;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * Encryption of declared fields (claim C12): each value, as JSON, is sealed with Tink AEAD (AES-256-GCM) under
 * the tenant's data keyset and stored as base64. The associated data binds tenant id, collection, record id and
 * field name, so a ciphertext copied into another field, record, collection or tenant does not open.
 *
 * <p>The keyset is unwrapped by the master key once per tenant and the primitive kept in a bounded cache:
 * unwrapping on every request would cost an AES operation and a protobuf parse each time.
 */
final class FieldCipher {

    private final Envelope envelope;
    private final Cache<UUID, Aead> aeads = Caffeine.newBuilder()
            .maximumSize(10_000)
            .expireAfterAccess(Duration.ofHours(1))
            .build();

    FieldCipher(Envelope envelope) {
        this.envelope = requireNonNull(envelope, "envelope is null");
    }

    String encrypt(Tenant tenant, String collection, UUID recordId, String field, JsonNode value) {
        try {
            byte[] ciphertext = aead(tenant).encrypt(RecordValues.write(value).getBytes(StandardCharsets.UTF_8),
                    associatedData(tenant.id(), collection, recordId, field));
            return Base64.getEncoder().encodeToString(ciphertext);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot encrypt a field of tenant " + tenant.id(), e);
        }
    }

    /**
     * Opens a stored value.
     *
     * @throws Conflict {@code integrity-error} when the value is not a ciphertext written for exactly this tenant,
     *                  collection, record and field (copied, swapped or altered in the database)
     */
    JsonNode decrypt(Tenant tenant, String collection, UUID recordId, String field, JsonNode stored) {
        if (stored.isNull()) {
            return stored;
        }
        byte[] ciphertext = stored instanceof TextNode text ? decodeOrNull(text.textValue()) : null;
        byte[] plaintext = null;
        if (ciphertext != null) {
            try {
                plaintext = aead(tenant).decrypt(ciphertext, associatedData(tenant.id(), collection, recordId, field));
            } catch (GeneralSecurityException e) {
                plaintext = null;
            }
        }
        if (plaintext == null) {
            throw integrityError(collection, recordId, field);
        }
        return RecordValues.parseStored(new String(plaintext, StandardCharsets.UTF_8));
    }

    /**
     * A 409: the request is well-formed and the server works, but the stored state of the record conflicts with
     * its cryptographic binding; retrying cannot help, and a 5xx would hide that the data was tampered with.
     */
    static Conflict integrityError(String collection, UUID recordId, String field) {
        return new Conflict("integrity-error", "encrypted field '" + field + "' of record " + recordId + " in collection '"
                + collection + "' failed its integrity check: the stored ciphertext was not written for this record "
                + "(copied, swapped or altered in the database)",
                Map.of("collection", collection, "record_id", recordId.toString(), "field", field));
    }

    private static byte[] decodeOrNull(String base64) {
        try {
            return Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    static byte[] associatedData(UUID tenantId, String collection, UUID recordId, String field) {
        // the field name comes last and the other parts cannot contain '/', so the encoding is unambiguous
        return ("silo/records/v1/" + tenantId + "/" + collection + "/" + recordId + "/" + field)
                .getBytes(StandardCharsets.UTF_8);
    }

    private Aead aead(Tenant tenant) {
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

package dev.silo.records;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.Mac;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.aead.AesGcmKey;
import com.google.crypto.tink.mac.HmacKey;
import com.google.crypto.tink.mac.HmacParameters;
import com.google.crypto.tink.mac.MacConfig;
import com.google.crypto.tink.subtle.Hkdf;
import com.google.crypto.tink.util.SecretBytes;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.problem.BadRequest;
import dev.silo.tenant.Tenant;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.Base64;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * Listing cursors, authenticated: a cursor is {@code base64url(payload) "." base64url(tag)}, the tag an HMAC-SHA256
 * (Tink {@link Mac}, 128-bit tag) over the tenant id, the collection and the payload (which names the sort). A
 * cursor altered in any byte, forged, or issued for another tenant or collection fails its check and is a 400
 * {@code invalid-cursor}; only then is its payload parsed, so no client-made position ever reaches SQL.
 *
 * <p>The HMAC key is derived (HKDF-SHA256, with its own info string, so it is independent of the encryption key)
 * from each key of the tenant's data keyset, keeping the key id: a keyset that gains a new primary key still
 * verifies cursors issued under the old one. Tenants need no new secret, and shredding the keyset at purge voids
 * every cursor with it. Primitives are cached per tenant, like {@link FieldCipher}'s: unwrapping the keyset costs
 * an AES operation and a protobuf parse.
 */
final class CursorSigner {
    static {
        try {
            MacConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final byte[] DERIVATION_INFO = "silo/records/cursor-mac/v1".getBytes(StandardCharsets.UTF_8);
    private static final int TAG_BYTES = 16;
    /** Far above any cursor this API issues for the sort keys it takes; bounds the work a forged one causes. */
    static final int MAX_CURSOR_LENGTH = 4096;

    private final Envelope envelope;
    private final Cache<UUID, Mac> macs = Caffeine.newBuilder()
            .maximumSize(10_000)
            .expireAfterAccess(Duration.ofHours(1))
            .build();

    CursorSigner(Envelope envelope) {
        this.envelope = requireNonNull(envelope, "envelope is null");
    }

    String sign(Tenant tenant, String collection, byte[] payload) {
        try {
            byte[] tag = mac(tenant).computeMac(signed(tenant.id(), collection, payload));
            Base64.Encoder encoder = Base64.getUrlEncoder().withoutPadding();
            return encoder.encodeToString(payload) + "." + encoder.encodeToString(tag);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign a cursor of tenant " + tenant.id(), e);
        }
    }

    /**
     * The payload of a cursor this API issued for this tenant and collection.
     *
     * @throws BadRequest {@code invalid-cursor} for anything else
     */
    byte[] verify(Tenant tenant, String collection, String cursor) {
        int dot = cursor.indexOf('.');
        if (cursor.length() > MAX_CURSOR_LENGTH || dot < 0) {
            throw invalid();
        }
        byte[] payload;
        byte[] tag;
        try {
            payload = Base64.getUrlDecoder().decode(cursor.substring(0, dot));
            tag = Base64.getUrlDecoder().decode(cursor.substring(dot + 1));
        } catch (IllegalArgumentException e) {
            throw invalid();
        }
        // the decoder ignores the unused low bits of a last character: only the exact text issued is accepted
        Base64.Encoder encoder = Base64.getUrlEncoder().withoutPadding();
        if (!(encoder.encodeToString(payload) + "." + encoder.encodeToString(tag)).equals(cursor)) {
            throw invalid();
        }
        try {
            mac(tenant).verifyMac(tag, signed(tenant.id(), collection, payload));
        } catch (GeneralSecurityException e) {
            throw invalid();
        }
        return payload;
    }

    static BadRequest invalid() {
        return new BadRequest("invalid-cursor", "the cursor is not one this API returned for this listing: pass "
                + "next_cursor back unchanged, to the same collection");
    }

    private static byte[] signed(UUID tenantId, String collection, byte[] payload) {
        // the collection name cannot contain '/', so the payload starts at an unambiguous place
        byte[] context = ("silo/records/cursor/v1/" + tenantId + "/" + collection + "/").getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(context.length + payload.length).put(context).put(payload).array();
    }

    private Mac mac(Tenant tenant) {
        return macs.get(tenant.id(), id -> {
            if (tenant.dataKeysetWrapped() == null) {
                throw new IllegalStateException("tenant " + tenant.id() + " has no data keyset");
            }
            try {
                return derive(envelope.unwrapKeyset(tenant.dataKeysetWrapped(), tenant.keysetContext()))
                        .getPrimitive(RegistryConfiguration.get(), Mac.class);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("cannot build the cursor key of tenant " + tenant.id(), e);
            }
        });
    }

    /** An HMAC keyset mirroring the data keyset: same ids, statuses and primary, each key derived from its AES key. */
    static KeysetHandle derive(KeysetHandle data) throws GeneralSecurityException {
        HmacParameters parameters = HmacParameters.builder()
                .setKeySizeBytes(32)
                .setTagSizeBytes(TAG_BYTES)
                .setHashType(HmacParameters.HashType.SHA256)
                .setVariant(HmacParameters.Variant.TINK)
                .build();
        KeysetHandle.Builder keyset = KeysetHandle.newBuilder();
        for (int i = 0; i < data.size(); i++) {
            KeysetHandle.Entry entry = data.getAt(i);
            if (!(entry.getKey() instanceof AesGcmKey aes)) {
                throw new GeneralSecurityException("data key " + entry.getId() + " is not AES-GCM");
            }
            byte[] derived = Hkdf.computeHkdf("HMACSHA256", aes.getKeyBytes().toByteArray(InsecureSecretKeyAccess.get()),
                    new byte[0], DERIVATION_INFO, 32);
            HmacKey key = HmacKey.builder()
                    .setParameters(parameters)
                    .setKeyBytes(SecretBytes.copyFrom(derived, InsecureSecretKeyAccess.get()))
                    .setIdRequirement(entry.getId())
                    .build();
            KeysetHandle.Builder.Entry added = KeysetHandle.importKey(key).setStatus(entry.getStatus());
            keyset.addEntry(entry.isPrimary() ? added.makePrimary() : added);
        }
        return keyset.build();
    }
}

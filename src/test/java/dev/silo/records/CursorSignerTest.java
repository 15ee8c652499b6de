package dev.silo.records;

import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.Mac;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.aead.PredefinedAeadParameters;
import dev.silo.platform.crypto.Envelope;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The cursor key: derived from the tenant's data keyset, one HMAC key per data key, so rotation keeps old cursors. */
class CursorSignerTest {
    private static final byte[] PAYLOAD = "{\"s\":\"created_at\"}".getBytes(StandardCharsets.UTF_8);

    @Test
    void aCursorSignedBeforeTheDataKeysetGainsANewPrimaryStillVerifies() throws GeneralSecurityException {
        KeysetHandle data = Envelope.newDataKeyset();
        byte[] tag = mac(data).computeMac(PAYLOAD);
        KeysetHandle rotated = KeysetHandle.newBuilder(data)
                .addEntry(KeysetHandle.generateEntryFromParameters(PredefinedAeadParameters.AES256_GCM).withRandomId().makePrimary())
                .build();
        mac(rotated).verifyMac(tag, PAYLOAD);
        assertThat(mac(rotated).computeMac(PAYLOAD)).isNotEqualTo(tag);
        assertThat(CursorSigner.derive(rotated).getPrimary().getId()).isEqualTo(rotated.getPrimary().getId());
    }

    @Test
    void anotherTenantsKeysetDoesNotVerifyTheTag() throws GeneralSecurityException {
        byte[] tag = mac(Envelope.newDataKeyset()).computeMac(PAYLOAD);
        assertThatThrownBy(() -> mac(Envelope.newDataKeyset()).verifyMac(tag, PAYLOAD)).isInstanceOf(GeneralSecurityException.class);
    }

    private static Mac mac(KeysetHandle data) throws GeneralSecurityException {
        return CursorSigner.derive(data).getPrimitive(RegistryConfiguration.get(), Mac.class);
    }
}

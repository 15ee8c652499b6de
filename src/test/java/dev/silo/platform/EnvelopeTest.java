package dev.silo.platform;

import com.google.crypto.tink.Aead;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import dev.silo.platform.crypto.Envelope;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EnvelopeTest {
    private static byte[] randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return key;
    }

    @Test
    void wrapsAndUnwrapsWithTheSameKeyAndContext() {
        Envelope envelope = Envelope.fromRawKey(randomKey());
        byte[] wrapped = envelope.wrapString("tenant secret", "tenant/1/jwt");
        assertThat(new String(wrapped, StandardCharsets.ISO_8859_1)).doesNotContain("tenant secret");
        assertThat(envelope.unwrapString(wrapped, "tenant/1/jwt")).isEqualTo("tenant secret");
    }

    @Test
    void aWrappedValueMovedToAnotherContextDoesNotOpen() {
        Envelope envelope = Envelope.fromRawKey(randomKey());
        byte[] wrapped = envelope.wrapString("tenant secret", "tenant/1/jwt");
        assertThatThrownBy(() -> envelope.unwrap(wrapped, "tenant/2/jwt")).isInstanceOf(Envelope.WrongKeyException.class);
    }

    @Test
    void anotherMasterKeyDoesNotOpen() {
        byte[] wrapped = Envelope.fromRawKey(randomKey()).wrapString("s", "c");
        assertThatThrownBy(() -> Envelope.fromRawKey(randomKey()).unwrap(wrapped, "c"))
                .isInstanceOf(Envelope.WrongKeyException.class)
                .hasMessageNotContaining("s\"");
    }

    @Test
    void dataKeysetsRoundTripWrapped() throws Exception {
        Envelope envelope = Envelope.fromRawKey(randomKey());
        KeysetHandle keyset = Envelope.newDataKeyset();
        byte[] wrapped = envelope.wrapKeyset(keyset, "tenant/1/data");
        Aead original = keyset.getPrimitive(RegistryConfiguration.get(), Aead.class);
        Aead restored = envelope.unwrapKeyset(wrapped, "tenant/1/data").getPrimitive(RegistryConfiguration.get(), Aead.class);
        byte[] ciphertext = original.encrypt("field".getBytes(StandardCharsets.UTF_8), new byte[0]);
        assertThat(restored.decrypt(ciphertext, new byte[0])).isEqualTo("field".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> envelope.unwrapKeyset(wrapped, "tenant/2/data")).isInstanceOf(Envelope.WrongKeyException.class);
    }
}

package dev.silo.audit;

import dev.silo.platform.crypto.Envelope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The checkpoint file: lines carry an HMAC under a key derived from the master key. */
class AuditAnchorsTest {
    private static Envelope randomMasterKey() {
        byte[] raw = new byte[32];
        new SecureRandom().nextBytes(raw);
        return Envelope.fromRawKey(raw);
    }

    @Test
    void anEditedOrForgedCheckpointLineIsCountedAndNotUsed(@TempDir Path dataDir) throws Exception {
        AuditAnchors anchors = new AuditAnchors(Optional.of(dataDir), new AuditKeys(randomMasterKey()));
        anchors.write(new AuditAnchors.Anchor("platform", 5, "a".repeat(64), 0, Instant.parse("2026-12-01T00:00:00Z")));
        anchors.write(new AuditAnchors.Anchor("platform", 9, "b".repeat(64), 0, Instant.parse("2026-12-01T00:01:00Z")));
        assertThat(anchors.read("platform").anchors()).extracting(AuditAnchors.Anchor::seq).containsExactly(5L, 9L);
        assertThat(Files.getPosixFilePermissions(anchors.file().orElseThrow()).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");

        Path file = anchors.file().orElseThrow();
        // Lower the second checkpoint's sequence number (to hide a cut tail) and add a line made without the key.
        String edited = Files.readString(file).replace("v1 platform 9 ", "v1 platform 7 ")
                + "v1 platform 12 " + "c".repeat(64) + " 0 2026-12-01T00:02:00Z " + "0".repeat(64) + "\n";
        Files.writeString(file, edited, StandardCharsets.UTF_8);
        AuditAnchors.Anchors read = anchors.read("platform");
        assertThat(read.anchors()).extracting(AuditAnchors.Anchor::seq).containsExactly(5L);
        assertThat(read.forgedLines()).isEqualTo(2);

        // Under another master key no line verifies.
        assertThat(new AuditAnchors(Optional.of(dataDir), new AuditKeys(randomMasterKey())).read("platform").forgedLines()).isEqualTo(3);
    }

    @Test
    void derivedKeysDifferByPurposeAndAreStableForOneMasterKey() {
        Envelope envelope = randomMasterKey();
        assertThat(envelope.deriveKey("silo/audit/platform/v1")).isEqualTo(envelope.deriveKey("silo/audit/platform/v1"))
                .isNotEqualTo(envelope.deriveKey("silo/audit/checkpoints/v1")).hasSize(32);
        AuditKeys keys = new AuditKeys(envelope);
        assertThat(keys.tenantDatabase("t_1")).isNotEqualTo(keys.tenantDatabase("t_2"));
    }
}

package dev.silo.audit;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The result of checking one audit log against its chain and its checkpoints.
 *
 * @param log            {@code platform} or {@code tenant:<id>}
 * @param entries        entries read (up to the first bad one)
 * @param lastSeq        the last entry found good: the log's last sequence number when intact (0 for an empty log)
 * @param keyedFrom      the first entry chained with the keyed HMAC, if any
 * @param legacyEntries  leading entries chained with plain SHA-256 (written before keyed chains)
 * @param brokenAt       the first entry that does not match the chain
 * @param anchorMismatch the first entry whose hash differs from a checkpoint of the same sequence number
 * @param missingFrom    with {@code missingTo}: entries a checkpoint saw that are no longer there
 * @param anchors        checkpoints of this log that were compared
 * @param forgedAnchors  lines of the checkpoint file that fail their HMAC (edited or forged)
 * @param reason         one sentence for people; null when intact
 */
public record AuditVerification(String log, long entries, long lastSeq, Optional<Long> keyedFrom, long legacyEntries,
                                Optional<Long> brokenAt, Optional<Long> anchorMismatch, Optional<Long> missingFrom,
                                Optional<Long> missingTo, int anchors, int forgedAnchors, String reason) {
    public AuditVerification {
        requireNonNull(log, "log is null");
        requireNonNull(keyedFrom, "keyedFrom is null");
        requireNonNull(brokenAt, "brokenAt is null");
        requireNonNull(anchorMismatch, "anchorMismatch is null");
        requireNonNull(missingFrom, "missingFrom is null");
        requireNonNull(missingTo, "missingTo is null");
    }

    public boolean intact() {
        return brokenAt.isEmpty() && anchorMismatch.isEmpty() && missingFrom.isEmpty() && forgedAnchors == 0;
    }

    /** The JSON form, the same for {@code GET .../audit/verify} and {@code silo audit verify --json}. */
    public Map<String, Object> view() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("log", log);
        view.put("intact", intact());
        view.put("entries", entries);
        view.put("last_seq", lastSeq);
        view.put("keyed_from", keyedFrom.orElse(null));
        view.put("legacy_entries", legacyEntries);
        view.put("broken_at", brokenAt.orElse(null));
        view.put("checkpoint_mismatch_at", anchorMismatch.orElse(null));
        view.put("missing_tail", missingFrom.isEmpty() ? null : Map.of("from", missingFrom.get(), "to", missingTo.orElseThrow()));
        view.put("checkpoints", anchors);
        view.put("forged_checkpoints", forgedAnchors);
        view.put("reason", reason);
        return view;
    }

    /** The line {@code silo audit verify} prints. */
    public String summary() {
        if (!intact()) {
            return "audit log " + log + " TAMPERED: " + reason;
        }
        StringBuilder text = new StringBuilder("audit log " + log + " intact: " + entries + " entries verified");
        if (keyedFrom.isPresent()) {
            text.append(", keyed (HMAC) from entry ").append(keyedFrom.get());
        }
        if (legacyEntries > 0) {
            text.append("; ").append(legacyEntries).append(keyedFrom.isPresent() ? " earlier" : "")
                    .append(" entries are chained with plain SHA-256 only (written before keyed chains)");
        }
        text.append(anchors == 0 ? "; no checkpoint to compare with" : "; matches " + anchors + " checkpoint(s)");
        return text.toString();
    }
}

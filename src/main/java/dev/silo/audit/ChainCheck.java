package dev.silo.audit;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Walks one audit log in sequence order and compares it with its checkpoints. An entry is valid when it links to
 * the previous entry and its hash is the keyed HMAC of its fields, or, for entries written before keyed chains,
 * the plain SHA-256. A plain entry is accepted only before the first keyed entry and, when a checkpoint exists,
 * only within the plain prefix the checkpoints recorded: so nobody can append or rewrite plain entries after
 * the switch without the key, and a rewrite of keyed entries into plain ones is caught by any checkpoint.
 */
final class ChainCheck {
    private final String log;
    private final byte[] key;
    private final Map<Long, AuditAnchors.Anchor> anchorsBySeq = new HashMap<>();
    private final long maxAnchorSeq;
    private final long plainLimit;
    private final int anchorCount;
    private final int forgedAnchors;
    private Long disagreement;

    private String previous = HashChain.GENESIS;
    private long expectedSeq = 1;
    private long entries;
    private Long keyedFrom;
    private long legacyEntries;
    private Long brokenAt;
    private Long anchorMismatch;
    private String reason;

    ChainCheck(String log, byte[] key, AuditAnchors.Anchors anchors) {
        this.log = requireNonNull(log, "log is null");
        this.key = requireNonNull(key, "key is null");
        List<AuditAnchors.Anchor> list = anchors.anchors();
        long max = 0;
        long plain = Long.MAX_VALUE;
        for (AuditAnchors.Anchor anchor : list) {
            // Several checkpoints of the same seq must agree; the first one seen is compared, a differing later one
            // is a rewrite between checkpoints and is reported too.
            AuditAnchors.Anchor earlier = anchorsBySeq.putIfAbsent(anchor.seq(), anchor);
            if (earlier != null && !earlier.hash().equals(anchor.hash()) && disagreement == null) {
                disagreement = anchor.seq();
            }
            max = Math.max(max, anchor.seq());
            plain = Math.min(plain, anchor.legacyUntil());
        }
        this.maxAnchorSeq = max;
        this.plainLimit = plain;
        this.anchorCount = list.size();
        this.forgedAnchors = anchors.forgedLines();
    }

    /** Checks the next entry; false when the log is broken and reading can stop. */
    boolean accept(long seq, String prevHash, String hash, Object... fields) {
        if (brokenAt != null || anchorMismatch != null) {
            return false;
        }
        entries++;
        if (seq != expectedSeq || !previous.equals(prevHash)) {
            return broken(seq, "entry " + seq + " does not link to entry " + (expectedSeq - 1)
                    + " (an entry was removed, inserted or reordered)");
        }
        if (HashChain.keyedLink(key, previous, fields).equals(hash)) {
            if (keyedFrom == null) {
                keyedFrom = seq;
            }
        } else if (HashChain.link(previous, fields).equals(hash)) {
            if (keyedFrom != null) {
                return broken(seq, "entry " + seq + " is chained with plain SHA-256 after keyed entries (edited and recomputed "
                        + "without the key)");
            }
            if (seq > plainLimit) {
                return broken(seq, "entry " + seq + " is chained with plain SHA-256, but the checkpoints say only the first "
                        + plainLimit + " entries are (edited and recomputed without the key)");
            }
            legacyEntries++;
        } else {
            return broken(seq, "entry " + seq + " does not match its hash (edited)");
        }
        AuditAnchors.Anchor anchor = anchorsBySeq.get(seq);
        if (anchor != null && !anchor.hash().equals(hash)) {
            anchorMismatch = seq;
            reason = "entry " + seq + " differs from the checkpoint of " + anchor.at() + " (the log was rewritten from there on)";
            return false;
        }
        previous = hash;
        expectedSeq++;
        return true;
    }

    private boolean broken(long seq, String why) {
        brokenAt = seq;
        reason = why;
        return false;
    }

    AuditVerification result() {
        long lastSeq = expectedSeq - 1;
        Optional<Long> missingFrom = Optional.empty();
        Optional<Long> missingTo = Optional.empty();
        String why = reason;
        if (brokenAt == null && anchorMismatch == null && maxAnchorSeq > lastSeq) {
            missingFrom = Optional.of(lastSeq + 1);
            missingTo = Optional.of(maxAnchorSeq);
            why = "missing tail: entries " + (lastSeq + 1) + ".." + maxAnchorSeq + " were removed (a checkpoint saw entry "
                    + maxAnchorSeq + ")";
        }
        Optional<Long> mismatch = Optional.ofNullable(anchorMismatch);
        if (why == null && disagreement != null) {
            mismatch = Optional.of(disagreement);
            why = "two checkpoints disagree on entry " + disagreement + " (the log was rewritten between them)";
        }
        if (why == null && forgedAnchors > 0) {
            why = forgedAnchors + " line(s) of the checkpoint file fail their HMAC (edited or forged)";
        }
        return new AuditVerification(log, entries, lastSeq, Optional.ofNullable(keyedFrom), legacyEntries,
                Optional.ofNullable(brokenAt), mismatch, missingFrom, missingTo, anchorCount,
                forgedAnchors, why);
    }
}

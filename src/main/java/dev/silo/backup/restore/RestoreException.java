package dev.silo.backup.restore;

/** A restore that cannot go on, in one sentence naming the object, segment or setting at fault (never a secret). */
public sealed class RestoreException extends RuntimeException permits RestoreException.TargetAfterWal {
    public RestoreException(String message) {
        super(message, null, false, false);
    }

    /**
     * {@code --to-time} is after the end of the WAL in the store, so no recovery can reach it: a usage error
     * ({@code silo restore} exits 2), told before anything is restored when the store says when its newest WAL was
     * stored, else when PostgreSQL's recovery ends before the target.
     */
    public static final class TargetAfterWal extends RestoreException {
        public TargetAfterWal(String message) {
            super(message);
        }
    }
}

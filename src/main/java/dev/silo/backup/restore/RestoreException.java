package dev.silo.backup.restore;

/** A restore that cannot go on, in one sentence naming the object, segment or setting at fault (never a secret). */
public final class RestoreException extends RuntimeException {
    public RestoreException(String message) {
        super(message, null, false, false);
    }
}

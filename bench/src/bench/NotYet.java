package bench;

/** A feature that is not there yet: its rows print "not available yet". */
final class NotYet extends RuntimeException {
    NotYet(String message) {
        super(message, null, false, false);
    }
}

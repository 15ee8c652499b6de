package dev.silo.app;

/** Silo cannot start for a reason the operator can fix; printed as one line, exit status 1. */
public final class StartupException extends RuntimeException {
    public StartupException(String message) {
        super(message, null, false, false);
    }
}

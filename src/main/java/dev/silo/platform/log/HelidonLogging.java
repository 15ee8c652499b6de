package dev.silo.platform.log;

import io.helidon.logging.common.spi.LoggingProvider;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Tells Helidon that logging is configured (Logback through SLF4J); Helidon's own records arrive through
 * the JUL bridge installed here.
 */
public final class HelidonLogging implements LoggingProvider {
    @Override
    public void initialization() {
        if (!SLF4JBridgeHandler.isInstalled()) {
            SLF4JBridgeHandler.removeHandlersForRootLogger();
            SLF4JBridgeHandler.install();
        }
    }

    @Override
    public void runTime() {
        initialization();
    }
}

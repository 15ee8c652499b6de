package dev.silo.platform.http;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

import static java.util.Objects.requireNonNull;

/**
 * Never a live process without a listener (claim C8). Helidon's accept loop ends for good on an I/O error (the
 * process out of file descriptors: "this server socket is terminating now") while the server still reports
 * itself running. So the watchdog connects to the port now and then, as a client would; when the connection is
 * refused {@link #REFUSALS_BEFORE_ACTION} times in a row while the server is not being closed, it logs an error
 * and runs {@code onListenerLost} (in production: exit with status 1, so the platform restarts the process).
 *
 * <p>Only "connection refused" counts: a probe that cannot get a descriptor itself says nothing about the listener.
 */
final class ListenerWatchdog implements AutoCloseable {
    static final int REFUSALS_BEFORE_ACTION = 3;
    private static final Logger log = LoggerFactory.getLogger(ListenerWatchdog.class);

    private final InetSocketAddress target;
    private final BooleanSupplier closing;
    private final Runnable onListenerLost;
    private final ScheduledExecutorService probes;
    private final AtomicBoolean fired = new AtomicBoolean();
    private int refusals;

    ListenerWatchdog(String host, int port, Duration period, BooleanSupplier closing, Runnable onListenerLost) {
        requireNonNull(host, "host is null");
        requireNonNull(period, "period is null");
        this.closing = requireNonNull(closing, "closing is null");
        this.onListenerLost = requireNonNull(onListenerLost, "onListenerLost is null");
        this.target = new InetSocketAddress(probeAddress(host), port);
        this.probes = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("silo-http-watchdog").factory());
        probes.scheduleWithFixedDelay(this::probe, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static InetAddress probeAddress(String host) {
        try {
            InetAddress address = InetAddress.getByName(host);
            return address.isAnyLocalAddress() ? InetAddress.getLoopbackAddress() : address;
        } catch (IOException e) {
            return InetAddress.getLoopbackAddress();
        }
    }

    private void probe() {
        if (closing.getAsBoolean() || fired.get()) {
            return;
        }
        try (Socket socket = new Socket()) {
            socket.connect(target, 2000);
            refusals = 0;
        } catch (ConnectException e) {
            refusals++;
            if (refusals >= REFUSALS_BEFORE_ACTION && !closing.getAsBoolean() && fired.compareAndSet(false, true)) {
                log.error("The HTTP listener on {} stopped accepting connections while Silo is running ({} refused probes); "
                        + "giving up so that the platform restarts the process", target, refusals);
                onListenerLost.run();
            }
        } catch (IOException | RuntimeException e) {
            // Not a verdict on the listener (a timeout under load, no descriptor for the probe itself).
            log.debug("Listener probe inconclusive: {}", e.toString());
        }
    }

    @Override
    public void close() {
        probes.shutdownNow();
    }
}

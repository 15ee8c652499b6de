package dev.silo.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import static java.util.Objects.requireNonNull;

/**
 * SIGTERM (what Heroku, Kubernetes and systemd send) and SIGINT (Ctrl-C) stop {@code silo serve} gracefully
 * with exit status 0.
 *
 * <p>Left to the JVM, these signals run the shutdown hooks and exit with 128 + the signal (143 for SIGTERM),
 * which platforms report as a crash; and the hooks run concurrently, so a library's own hook (the HTTP server
 * registers one) closes the listener while readiness should still be draining. Calling {@code Runtime.halt(0)}
 * at the end of Silo's hook would fix the status but cut the other hooks short. So Silo handles the two
 * signals itself with {@code sun.misc.Signal} (module {@code jdk.unsupported}, exported by every JDK since 9
 * and used by Netty and others for exactly this): stop in order, then {@code System.exit(0)}, which runs the
 * remaining hooks normally. It is reached by reflection because javac warns about {@code sun.misc} with a
 * warning no annotation suppresses, and the build treats warnings as errors. Where the handler cannot be
 * installed (a JVM run with {@code -Xrs}, a JDK without the module), the shutdown hook still stops Silo, with
 * the JVM's exit status.
 */
final class StopSignals {
    private static final Logger log = LoggerFactory.getLogger(StopSignals.class);
    private static final List<String> SIGNALS = List.of("TERM", "INT");
    /** Exit status when the stop overran its deadline: not the clean 0, so the platform shows something went wrong. */
    static final int EXIT_STOP_OVERRAN = 1;
    /** How long the last resort may take before the JVM halts regardless. */
    static final Duration LAST_RESORT_LIMIT = Duration.ofSeconds(3);

    private StopSignals() {}

    /**
     * On the first SIGTERM or SIGINT, runs {@code stop} on a thread of its own, then exits with status 0; bounded:
     * if {@code stop} has not returned {@code deadline} after the signal, logs where it is stuck, runs
     * {@code lastResort} (stop PostgreSQL) for up to {@link #LAST_RESORT_LIMIT}, and halts with
     * {@link #EXIT_STOP_OVERRAN}. A platform kills the process at its own limit anyway (Heroku after 30 s,
     * Kubernetes after {@code terminationGracePeriodSeconds}); ending before it leaves a line that says why, and
     * the embedded PostgreSQL stopped rather than orphaned.
     */
    static void install(Runnable stop, Duration deadline, Runnable lastResort) {
        requireNonNull(stop, "stop is null");
        requireNonNull(deadline, "deadline is null");
        requireNonNull(lastResort, "lastResort is null");
        AtomicBoolean stopping = new AtomicBoolean();
        Runnable onSignal = () -> {
            if (stopping.compareAndSet(false, true)) {
                // Not on the signal dispatcher thread: stopping takes seconds.
                Thread stopper = Thread.ofPlatform().name("silo-stop").start(() -> {
                    stop.run();
                    System.exit(0);
                });
                Thread.ofPlatform().daemon().name("silo-stop-deadline").start(() -> enforce(stopper, deadline, lastResort));
            }
            // a second signal while stopping changes nothing: the stop ends by its deadline
        };
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Object handler = Proxy.newProxyInstance(StopSignals.class.getClassLoader(), new Class<?>[] {handlerClass},
                    (proxy, method, arguments) -> switch (method.getName()) {
                        case "handle" -> {
                            onSignal.run();
                            yield null;
                        }
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == arguments[0];
                        default -> "silo stop-signal handler";
                    });
            for (String name : SIGNALS) {
                Object signal = signalClass.getConstructor(String.class).newInstance(name);
                signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, signal, handler);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            Throwable cause = e instanceof InvocationTargetException target ? target.getCause() : e;
            log.warn("Cannot handle SIGTERM and SIGINT ({}); they stop Silo through the shutdown hook, with the JVM's exit status",
                    cause.toString());
        }
    }

    private static void enforce(Thread stopper, Duration deadline, Runnable lastResort) {
        try {
            if (stopper.join(deadline)) {
                return; // stopped in time; System.exit(0) is under way
            }
            String where = Arrays.stream(stopper.getStackTrace()).limit(8).map(StackTraceElement::toString)
                    .collect(Collectors.joining(" < "));
            String message = "Silo did not stop within " + deadline.toSeconds() + " s of the stop signal; stopping PostgreSQL "
                    + "and exiting with status " + EXIT_STOP_OVERRAN + " (the stop was at: " + where + ")";
            log.error(message);
            System.err.println("silo: " + message); // the log may be asynchronous, and halt() flushes nothing
            System.err.flush();
            Thread last = Thread.ofPlatform().daemon().name("silo-stop-last-resort").start(lastResort);
            last.join(LAST_RESORT_LIMIT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            System.err.println("silo: the last resort of the stop failed: " + e);
        }
        Runtime.getRuntime().halt(EXIT_STOP_OVERRAN);
    }
}

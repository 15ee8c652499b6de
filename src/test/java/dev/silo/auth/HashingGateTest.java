package dev.silo.auth;

import dev.silo.platform.problem.Unavailable;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class HashingGateTest {
    @Test
    void loginStormBeyondTheQueueIsRefusedAtOnce() throws Exception {
        HashingGate gate = new HashingGate(2, 3, Duration.ofSeconds(2));
        CountDownLatch release = new CountDownLatch(1);
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<String>> admitted = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                admitted.add(threads.submit(() -> gate.run(() -> {
                    awaitLatch(release);
                    return "done";
                })));
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gate.running() == 2 && gate.waiting() == 3);

            // Refused while every runner and queue place is still held (the latch is not released): at once, not
            // after a wait for a place.
            assertThatThrownBy(() -> gate.run(() -> "never"))
                    .isInstanceOfSatisfying(Unavailable.class, problem -> {
                        assertThat(problem.status()).isEqualTo(503);
                        assertThat(problem.type()).isEqualTo("login-busy");
                        assertThat(problem.headers()).containsEntry("Retry-After", "2");
                    });

            release.countDown();
            for (Future<String> future : admitted) {
                assertThat(future.get(5, TimeUnit.SECONDS)).isEqualTo("done");
            }
        }
        assertThat(gate.running()).isZero();
        assertThat(gate.run(() -> "again")).isEqualTo("again");
    }

    @Test
    void neverMoreThanMaxConcurrentRunAtOnce() throws Exception {
        HashingGate gate = new HashingGate(2, 100, Duration.ofSeconds(1));
        AtomicInteger now = new AtomicInteger();
        AtomicInteger highest = new AtomicInteger();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Integer>> results = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                int n = i;
                results.add(threads.submit(() -> gate.run(() -> {
                    highest.accumulateAndGet(now.incrementAndGet(), Math::max);
                    sleep(Duration.ofMillis(5));
                    now.decrementAndGet();
                    return n;
                })));
            }
            for (int i = 0; i < results.size(); i++) {
                assertThat(results.get(i).get(10, TimeUnit.SECONDS)).isEqualTo(i);
            }
        }
        assertThat(highest.get()).isBetween(1, 2);
    }

    @Test
    void permitsAreReleasedWhenTheWorkThrows() {
        HashingGate gate = new HashingGate(1, 0, Duration.ofSeconds(1));
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> gate.run(() -> {
                throw new IllegalStateException("bcrypt blew up");
            })).isInstanceOf(IllegalStateException.class).hasMessage("bcrypt blew up");
        }
        assertThat(gate.running()).isZero();
        assertThat(gate.run(() -> 42)).isEqualTo(42);
    }

    @Test
    void aWaiterInterruptedGivesUpItsPlace() throws Exception {
        HashingGate gate = new HashingGate(1, 1, Duration.ofSeconds(1));
        CountDownLatch release = new CountDownLatch(1);
        Thread runner = Thread.ofVirtual().start(() -> gate.run(() -> {
            awaitLatch(release);
            return null;
        }));
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.running() == 1);
        AtomicInteger outcome = new AtomicInteger();
        Thread waiter = Thread.ofVirtual().start(() -> {
            try {
                gate.run(() -> 1);
                outcome.set(1);
            } catch (Unavailable e) {
                outcome.set(Thread.currentThread().isInterrupted() ? 2 : 3);
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.waiting() == 1);
        waiter.interrupt();
        waiter.join(5_000);
        assertThat(outcome.get()).isEqualTo(2); // refused, interrupt flag kept
        // The queue place was released: one more caller may wait again.
        Thread next = Thread.ofVirtual().start(() -> gate.run(() -> 1));
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.waiting() == 1);
        release.countDown();
        runner.join(5_000);
        next.join(5_000);
        assertThat(gate.running()).isZero();
    }

    @Test
    void argumentsAreChecked() {
        assertThatThrownBy(() -> new HashingGate(0, 1, Duration.ofSeconds(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HashingGate(1, -1, Duration.ofSeconds(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HashingGate(1, 1, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        HashingGate defaults = new HashingGate();
        assertThat(defaults.maxConcurrent()).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(defaults.maxWaiting()).isEqualTo(4 * defaults.maxConcurrent());
    }

    private static void awaitLatch(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("latch not released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

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
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class HashingGateTest {
    @Test
    void theWorkOfAVirtualThreadRunsOnAPlatformHashingThread() throws Exception {
        try (HashingGate gate = new HashingGate(1, 1, Duration.ofSeconds(1))) {
            AtomicReference<Thread> caller = new AtomicReference<>();
            AtomicReference<Thread> worker = new AtomicReference<>();
            Thread handler = Thread.ofVirtual().start(() -> {
                caller.set(Thread.currentThread());
                gate.run(() -> {
                    worker.set(Thread.currentThread());
                    return null;
                });
            });
            handler.join(10_000);
            assertThat(caller.get().isVirtual()).isTrue();
            assertThat(worker.get()).isNotNull();
            assertThat(worker.get().isVirtual()).isFalse();
            assertThat(worker.get().getName()).startsWith("silo-bcrypt-");
        }
    }

    @Test
    void realBcryptOnAVirtualThreadIsRefusedAndThroughTheGateWorks() throws Exception {
        PasswordHasher hasher = new PasswordHasher(10);
        AtomicReference<Throwable> direct = new AtomicReference<>();
        AtomicReference<String> gated = new AtomicReference<>();
        try (HashingGate gate = new HashingGate(1, 0, Duration.ofSeconds(1))) {
            Thread.ofVirtual().start(() -> {
                try {
                    hasher.hash("correct horse battery");
                } catch (Throwable e) {
                    direct.set(e);
                }
                gated.set(gate.run(() -> hasher.hash("correct horse battery")));
            }).join(30_000);
        }
        assertThat(direct.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("HashingGate");
        assertThat(gated.get()).startsWith("$2b$10$");
    }

    @Test
    void loginStormBeyondTheQueueIsRefusedWhileThePoolIsStillBlocked() throws Exception {
        try (HashingGate gate = new HashingGate(2, 3, Duration.ofSeconds(2))) {
            CountDownLatch release = new CountDownLatch(1);
            try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<String>> admitted = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    admitted.add(threads.submit(() -> gate.run(() -> {
                        awaitLatch(release);
                        return "done";
                    })));
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> gate.running() == 2 && gate.waiting() == 3);
                assertThat(gate.freePlaces()).isZero();

                assertThatThrownBy(() -> gate.run(() -> "never"))
                        .isInstanceOfSatisfying(Unavailable.class, problem -> {
                            assertThat(problem.status()).isEqualTo(503);
                            assertThat(problem.type()).isEqualTo("login-busy");
                            assertThat(problem.headers()).containsEntry("Retry-After", "2");
                        });
                assertThatThrownBy(gate::reserve).isInstanceOf(Unavailable.class);
                // refused while every admitted call is still held: nothing had to finish first
                assertThat(admitted).noneMatch(Future::isDone);

                release.countDown();
                for (Future<String> future : admitted) {
                    assertThat(future.get(10, TimeUnit.SECONDS)).isEqualTo("done");
                }
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> gate.running() == 0);
            assertThat(gate.freePlaces()).isEqualTo(5);
            assertThat(gate.run(() -> "again")).isEqualTo("again");
        }
    }

    @Test
    void callersWithinThePlacesAreNeverRefusedHoweverFastTheyFollowOneAnother() throws Exception {
        // A place comes back when a computation is done, possibly before its thread takes the next queued one:
        // with several threads the executor's queue must have room for that moment on each of them.
        int threads = 2;
        int queue = 2;
        try (HashingGate gate = new HashingGate(threads, queue, Duration.ofSeconds(1));
             var callers = Executors.newVirtualThreadPerTaskExecutor()) {
            AtomicInteger busy = new AtomicInteger();
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < threads + queue; c++) {
                running.add(callers.submit(() -> {
                    for (int i = 0; i < 2000; i++) {
                        try {
                            gate.run(() -> Thread.currentThread().getName());
                        } catch (Unavailable e) {
                            busy.incrementAndGet();
                        }
                    }
                }));
            }
            for (var future : running) {
                future.get(120, TimeUnit.SECONDS);
            }
            assertThat(busy.get()).isZero();
        }
    }

    @Test
    void neverMoreThanThreadsRunAtOnce() throws Exception {
        try (HashingGate gate = new HashingGate(2, 100, Duration.ofSeconds(1))) {
            AtomicInteger now = new AtomicInteger();
            AtomicInteger highest = new AtomicInteger();
            try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<Integer>> results = new ArrayList<>();
                for (int i = 0; i < 40; i++) {
                    int n = i;
                    results.add(threads.submit(() -> gate.run(() -> {
                        highest.accumulateAndGet(now.incrementAndGet(), Math::max);
                        Thread.onSpinWait();
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
    }

    @Test
    void aReservationRunsSeveralComputationsAndPlacesComeBackWhenTheWorkThrows() {
        try (HashingGate gate = new HashingGate(1, 0, Duration.ofSeconds(1))) {
            try (HashingGate.Reservation reservation = gate.reserve()) {
                assertThat(reservation.run(() -> 1) + reservation.run(() -> 2)).isEqualTo(3);
                assertThatThrownBy(gate::reserve).isInstanceOf(Unavailable.class);
            }
            for (int i = 0; i < 3; i++) {
                assertThatThrownBy(() -> gate.run(() -> {
                    throw new IllegalStateException("bcrypt blew up");
                })).isInstanceOf(IllegalStateException.class).hasMessage("bcrypt blew up");
            }
            assertThat(gate.freePlaces()).isEqualTo(1);
            assertThat(gate.run(() -> 42)).isEqualTo(42);
        }
    }

    @Test
    void aWaiterInterruptedGivesUpItsPlace() throws Exception {
        try (HashingGate gate = new HashingGate(1, 1, Duration.ofSeconds(1))) {
            CountDownLatch release = new CountDownLatch(1);
            Thread runner = Thread.ofVirtual().start(() -> gate.run(() -> {
                awaitLatch(release);
                return null;
            }));
            await().atMost(Duration.ofSeconds(10)).until(() -> gate.running() == 1);
            AtomicInteger outcome = new AtomicInteger();
            Thread waiter = Thread.ofVirtual().start(() -> {
                try {
                    gate.run(() -> 1);
                    outcome.set(1);
                } catch (Unavailable e) {
                    outcome.set(Thread.currentThread().isInterrupted() ? 2 : 3);
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> gate.waiting() == 1);
            waiter.interrupt();
            waiter.join(10_000);
            assertThat(outcome.get()).isEqualTo(2); // refused, interrupt flag kept
            assertThat(gate.freePlaces()).isEqualTo(1); // its place was given back
            release.countDown();
            runner.join(10_000);
            assertThat(gate.run(() -> 7)).isEqualTo(7);
        }
    }

    @Test
    void argumentsAreCheckedAndTheDefaultLeavesACoreForTheRest() {
        assertThatThrownBy(() -> new HashingGate(0, 1, Duration.ofSeconds(1))).hasMessageContaining("SILO_HASHING_THREADS");
        assertThatThrownBy(() -> new HashingGate(1, -1, Duration.ofSeconds(1))).hasMessageContaining("SILO_HASHING_QUEUE");
        assertThatThrownBy(() -> new HashingGate(1, 1, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        try (HashingGate defaults = new HashingGate()) {
            assertThat(defaults.threads()).isEqualTo(Math.max(1, Runtime.getRuntime().availableProcessors() - 1));
            assertThat(defaults.queue()).isEqualTo(4 * defaults.threads());
        }
    }

    @Test
    void poolSizeAndQueueComeFromTheEnvironmentAndABadValueNamesTheSetting() {
        var tuning = dev.silo.platform.config.SiloConfig.Tuning.from(java.util.Map.of("SILO_HASHING_THREADS", "3"));
        assertThat(tuning.hashingThreads()).isEqualTo(3);
        assertThat(tuning.hashingQueue()).isEqualTo(12);
        var defaults = dev.silo.platform.config.SiloConfig.Tuning.from(java.util.Map.of());
        assertThat(defaults.hashingThreads()).isEqualTo(HashingGate.defaultThreads());
        assertThat(dev.silo.platform.config.SiloConfig.Tuning.from(java.util.Map.of("SILO_HASHING_QUEUE", "0")).hashingQueue()).isZero();
        assertThatThrownBy(() -> dev.silo.platform.config.SiloConfig.Tuning.from(java.util.Map.of("SILO_HASHING_THREADS", "0")))
                .hasMessageContaining("SILO_HASHING_THREADS");
        assertThatThrownBy(() -> dev.silo.platform.config.SiloConfig.Tuning.from(java.util.Map.of("SILO_HASHING_QUEUE", "-1")))
                .hasMessageContaining("SILO_HASHING_QUEUE");
    }

    private static void awaitLatch(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("latch not released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

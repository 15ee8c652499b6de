package dev.silo.tenant;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class RequestGateTest {
    private static final long LONG = TimeUnit.SECONDS.toNanos(30);

    @Test
    void neverMorePermitHoldersThanPermitsAndNoPermitIsLost() throws Exception {
        RequestGate gate = new RequestGate(3);
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < 64; c++) {
                clients.add(executor.submit(() -> {
                    for (int i = 0; i < 500; i++) {
                        assertThat(gate.acquire(LONG)).isTrue();
                        peak.accumulateAndGet(holders.incrementAndGet(), Math::max);
                        if (i % 7 == 0) {
                            Thread.yield();
                        }
                        holders.decrementAndGet();
                        gate.release();
                        done.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> client : clients) {
                client.get(60, TimeUnit.SECONDS);
            }
        }
        assertThat(done.get()).isEqualTo(64 * 500);
        assertThat(peak.get()).isBetween(1, 3);
        assertThat(gate.available()).isEqualTo(3);
        assertThat(gate.waiting()).isZero();
    }

    @Test
    void waitersAreServedInArrivalOrder() throws Exception {
        RequestGate gate = new RequestGate(1);
        assertThat(gate.acquire(LONG)).isTrue();
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 5; i++) {
                int number = i;
                executor.submit(() -> {
                    assertThat(gate.acquire(LONG)).isTrue();
                    order.add(number);
                    gate.release();
                    return null;
                });
                int expected = i + 1;
                await().atMost(Duration.ofSeconds(10)).until(() -> gate.waiting() == expected);
            }
            gate.release();
        }
        assertThat(order).containsExactly(0, 1, 2, 3, 4);
        assertThat(gate.available()).isEqualTo(1);
    }

    @Test
    void aWaiterPastItsDeadlineIsWokenByExpireAndGetsNoPermit() throws Exception {
        RequestGate gate = new RequestGate(1);
        assertThat(gate.acquire(LONG)).isTrue();
        CountDownLatch finished = new CountDownLatch(1);
        AtomicInteger result = new AtomicInteger(-1);
        Thread waiter = Thread.ofVirtual().start(() -> {
            result.set(gate.acquire(TimeUnit.MILLISECONDS.toNanos(100)) ? 1 : 0);
            finished.countDown();
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> gate.waiting() == 1);
        // It parks without a timer: only expire() (the pool sweeper) wakes it once the deadline has passed.
        assertThat(finished.await(300, TimeUnit.MILLISECONDS)).isFalse();
        gate.expire();
        assertThat(finished.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(result.get()).isZero();
        waiter.join();
        // The permit it did not get is still the holder's, and comes back whole.
        assertThat(gate.available()).isZero();
        gate.release();
        assertThat(gate.available()).isEqualTo(1);
        assertThat(gate.waiting()).isZero();
        assertThat(gate.acquire(0)).isTrue();
    }

    @Test
    void anInterruptedWaiterGivesUpWithItsInterruptFlagSet() throws Exception {
        RequestGate gate = new RequestGate(1);
        assertThat(gate.acquire(LONG)).isTrue();
        AtomicInteger result = new AtomicInteger(-1);
        AtomicInteger flag = new AtomicInteger(-1);
        Thread waiter = Thread.ofVirtual().start(() -> {
            result.set(gate.acquire(LONG) ? 1 : 0);
            flag.set(Thread.currentThread().isInterrupted() ? 1 : 0);
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> gate.waiting() == 1);
        waiter.interrupt();
        waiter.join(10_000);
        assertThat(result.get()).isZero();
        assertThat(flag.get()).isEqualTo(1);
        gate.release();
        assertThat(gate.available()).isEqualTo(1);
    }
}

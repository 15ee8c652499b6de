package dev.silo.platform.cpu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BulkWorkTest {
    @Test
    void workFromAVirtualThreadRunsOnAPlatformThreadAndItsResultComesBack() throws Exception {
        try (BulkWork bulk = new BulkWork(1); var callers = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<String> result = callers.submit(() -> bulk.call(() ->
                    (Thread.currentThread().isVirtual() ? "virtual " : "platform ") + Thread.currentThread().getName()));
            assertThat(result.get(30, TimeUnit.SECONDS)).startsWith("platform silo-bulk-");
        }
    }

    @Test
    void failuresReachTheCallerUnwrappedWhenUnchecked() {
        try (BulkWork bulk = new BulkWork(1)) {
            assertThatThrownBy(() -> bulk.call(() -> {
                throw new IllegalArgumentException("bad batch");
            })).isInstanceOf(IllegalArgumentException.class).hasMessage("bad batch");
            assertThatThrownBy(() -> bulk.call(() -> {
                throw new IOException("disk");
            })).isInstanceOf(IllegalStateException.class).hasCauseInstanceOf(IOException.class);
        }
    }

    @Test
    void noMoreThanItsThreadsRunAtOnceAndCallersBeyondItsPlacesWaitInsteadOfFailing() throws Exception {
        int threads = 2;
        try (BulkWork bulk = new BulkWork(threads); var callers = Executors.newVirtualThreadPerTaskExecutor()) {
            AtomicInteger running = new AtomicInteger();
            AtomicInteger most = new AtomicInteger();
            CountDownLatch release = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            int calls = threads * 10; // more than threads + queue places
            for (int i = 0; i < calls; i++) {
                int n = i;
                results.add(callers.submit(() -> bulk.call(() -> {
                    most.accumulateAndGet(running.incrementAndGet(), Math::max);
                    release.await();
                    running.decrementAndGet();
                    return n;
                })));
            }
            org.awaitility.Awaitility.await().atMost(30, TimeUnit.SECONDS).until(() -> running.get() == threads);
            release.countDown();
            int sum = 0;
            for (Future<Integer> result : results) {
                sum += result.get(30, TimeUnit.SECONDS);
            }
            assertThat(sum).isEqualTo(calls * (calls - 1) / 2);
            assertThat(most.get()).isEqualTo(threads);
        }
    }

    @Test
    void workHandedOverFromAPoolThreadRunsInline() {
        try (BulkWork bulk = new BulkWork(1)) {
            // With one thread, a nested hand-over that queued would wait for itself forever.
            assertThat(bulk.call(() -> bulk.call(() -> Thread.currentThread().getName()))).startsWith("silo-bulk-");
        }
    }
}

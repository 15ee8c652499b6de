package bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/** Per-thread throughput of a CPU-bound operation on platform threads, after a warm-up. */
record CpuBound(double rate, String cpu) {
    static volatile long sink;

    static CpuBound run(int threads, Duration warmup, Duration measure, Callable<Integer> operation) throws Exception {
        long start = System.nanoTime();
        long measureStart = start + warmup.toNanos();
        long end = measureStart + measure.toNanos();
        List<Thread> workers = new ArrayList<>();
        double[] rates = new double[threads];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int t = 0; t < threads; t++) {
            int index = t;
            workers.add(Thread.ofPlatform().name("bench-cpu-" + t).start(() -> {
                try {
                    long local = 0;
                    while (System.nanoTime() < measureStart) {
                        local += operation.call();
                    }
                    long first = System.nanoTime();
                    long last = first;
                    long count = 0;
                    while (last < end) {
                        local += operation.call();
                        count++;
                        last = System.nanoTime();
                    }
                    rates[index] = count / ((last - first) / 1e9);
                    sink += local;
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        Load.sleepUntil(measureStart);
        Cpu before = Cpu.now();
        Load.sleepUntil(end);
        Cpu after = Cpu.now();
        for (Thread worker : workers) {
            worker.join();
        }
        if (failure.get() != null) {
            throw new Fatal("raw measurement failed: " + failure.get());
        }
        return new CpuBound(Arrays.stream(rates).sum(), Cpu.used(before, after));
    }
}

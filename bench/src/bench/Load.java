package bench;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A closed-loop HTTP/1.1 load driver: one virtual thread per connection, each sending a request, reading the
 * whole response, and sending the next (like wrk). Requests are pre-encoded bytes; responses are parsed just
 * enough (status, Content-Length or chunked, Connection: close). Any status outside 2xx or an I/O error is
 * counted as an error, and errors fail the run. Kept minimal so the client spends as little of the shared
 * CPU as it can: the JDK HttpClient costs several times more per request.
 */
final class Load {
    interface Source {
        byte[] request(int worker, long iteration);
    }

    /**
     * {@code shed}: 503 {@code busy} answers, Silo's designed outcome when the tenant connection budget is spent
     * past its bounded wait; reported next to the figure, not an error.
     */
    /** {@code cpu}: what each party used in the measured window ({@link Cpu#used}), from the snapshots {@code cpuBefore}, {@code cpuAfter}. */
    record Result(long requests, long errors, long shed, String firstError, Latencies latencies, double seconds, String cpu,
                  Cpu cpuBefore, Cpu cpuAfter) {
        Measured measured(String label, String unit, String what) {
            if (errors > 0) {
                throw new Fatal(errors + " of " + (requests + errors) + " requests failed (" + what + "); first: " + firstError);
            }
            if (requests == 0) {
                throw new Fatal("no request completed in " + seconds + " s (" + what + ")");
            }
            String shedNote = shed == 0 ? "" : "; " + shed + " answered 503 busy (connection budget spent), not counted";
            return Measured.throughput(label, requests / seconds, unit, latencies, what + shedNote + "; " + cpu);
        }
    }

    static byte[] get(URI base, String path, String bearer) {
        StringBuilder request = new StringBuilder("GET ").append(path).append(" HTTP/1.1\r\nHost: ")
                .append(base.getHost()).append(':').append(base.getPort()).append("\r\n");
        if (bearer != null) {
            request.append("Authorization: Bearer ").append(bearer).append("\r\n");
        }
        return request.append("\r\n").toString().getBytes(StandardCharsets.UTF_8);
    }

    static byte[] post(URI base, String path, String json, String bearer) {
        return post(base, path, "application/json", json, bearer);
    }

    /** A form-encoded POST ({@code application/x-www-form-urlencoded}), as RFC 7662 introspection takes. */
    static byte[] form(URI base, String path, String form, String bearer) {
        return post(base, path, "application/x-www-form-urlencoded", form, bearer);
    }

    private static byte[] post(URI base, String path, String contentType, String text, String bearer) {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        StringBuilder request = new StringBuilder("POST ").append(path).append(" HTTP/1.1\r\nHost: ")
                .append(base.getHost()).append(':').append(base.getPort()).append("\r\n")
                .append("Content-Type: ").append(contentType).append("\r\nContent-Length: ").append(body.length).append("\r\n");
        if (bearer != null) {
            request.append("Authorization: Bearer ").append(bearer).append("\r\n");
        }
        byte[] head = request.append("\r\n").toString().getBytes(StandardCharsets.UTF_8);
        byte[] all = Arrays.copyOf(head, head.length + body.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    static Result run(URI base, int connections, Duration warmup, Duration measure, Source source) throws Exception {
        return run(List.of(base), connections, warmup, measure, source);
    }

    /**
     * The load spread over several servers (the nodes of row 18) as a client-side round-robin would: connection
     * {@code w} goes to {@code bases.get(w % bases.size())}, so the source picks that node's request by the worker.
     */
    static Result run(List<URI> bases, int connections, Duration warmup, Duration measure, Source source) throws Exception {
        long start = System.nanoTime();
        long measureStart = start + warmup.toNanos();
        long end = measureStart + measure.toNanos();
        AtomicLong errors = new AtomicLong();
        AtomicLong shed = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>();
        long[][] latencies = new long[connections][];
        int[] counts = new int[connections];
        List<Thread> workers = new ArrayList<>();
        for (int w = 0; w < connections; w++) {
            int worker = w;
            workers.add(Thread.ofVirtual().name("bench-load-" + w).start(() -> {
                long[] mine = new long[1 << 14];
                int count = 0;
                long iteration = 0;
                LoadConnection connection = null;
                while (System.nanoTime() < end) {
                    byte[] request = source.request(worker, iteration++);
                    long t0 = System.nanoTime();
                    boolean measured = t0 >= measureStart;
                    try {
                        if (connection == null) {
                            connection = new LoadConnection(bases.get(worker % bases.size()));
                        }
                        int status = connection.exchange(request);
                        long t1 = System.nanoTime();
                        if (status == 503 && connection.lastBody().contains("/problems/busy")) {
                            shed.incrementAndGet();
                        } else if (status < 200 || status > 299) {
                            errors.incrementAndGet();
                            firstError.compareAndSet(null, "HTTP " + status + ": " + Format.abbreviate(connection.lastBody()));
                        } else if (measured && t1 <= end) {
                            if (count == mine.length) {
                                mine = Arrays.copyOf(mine, count * 2);
                            }
                            mine[count++] = t1 - t0;
                        }
                        if (connection.closed()) {
                            connection.close();
                            connection = null;
                        }
                    } catch (IOException e) {
                        errors.incrementAndGet();
                        firstError.compareAndSet(null, e.toString());
                        if (connection != null) {
                            connection.close();
                            connection = null;
                        }
                        try {
                            Thread.sleep(10);
                        } catch (InterruptedException interrupted) {
                            return;
                        }
                    }
                }
                if (connection != null) {
                    connection.close();
                }
                latencies[worker] = mine;
                counts[worker] = count;
            }));
        }
        sleepUntil(measureStart);
        Cpu before = Cpu.now();
        sleepUntil(end);
        Cpu after = Cpu.now();
        for (Thread worker : workers) {
            worker.join();
        }
        int total = Arrays.stream(counts).sum();
        long[] all = new long[total];
        int offset = 0;
        for (int w = 0; w < connections; w++) {
            System.arraycopy(latencies[w], 0, all, offset, counts[w]);
            offset += counts[w];
        }
        return new Result(total, errors.get(), shed.get(), firstError.get(), Latencies.of(all, total), measure.toNanos() / 1e9,
                Cpu.used(before, after), before, after);
    }

    static void sleepUntil(long nanoTime) throws InterruptedException {
        long remaining;
        while ((remaining = nanoTime - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(remaining);
        }
    }
}

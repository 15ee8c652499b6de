package bench;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/** Samples the number of client backends on the embedded server every 100 ms (excluding its own). */
final class ConnectionSampler implements AutoCloseable {
    private final SiloProcess silo;
    private final AtomicInteger windowPeak = new AtomicInteger();
    private final AtomicInteger overallPeak = new AtomicInteger();
    private final AtomicInteger tenantWindowPeak = new AtomicInteger();
    private volatile boolean running = true;
    private Thread thread;

    ConnectionSampler(SiloProcess silo) {
        this.silo = silo;
    }

    void start() {
        Connection connection = Postgres.open(silo, "postgres");
        thread = Thread.ofPlatform().daemon().name("bench-connection-sampler").start(() -> {
            try (connection; Statement statement = connection.createStatement()) {
                while (running) {
                    try (ResultSet rs = statement.executeQuery("""
                            SELECT count(*), count(*) FILTER (WHERE usename LIKE 't\\_%')
                            FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()""")) {
                        rs.next();
                        int count = rs.getInt(1);
                        windowPeak.accumulateAndGet(count, Math::max);
                        overallPeak.accumulateAndGet(count, Math::max);
                        tenantWindowPeak.accumulateAndGet(rs.getInt(2), Math::max);
                    }
                    Thread.sleep(100);
                }
            } catch (SQLException | InterruptedException e) {
                // the server is stopping
            }
        });
    }

    void resetWindow() {
        windowPeak.set(0);
        tenantWindowPeak.set(0);
    }

    /** Connections logged in as tenant roles ({@code t_<id>}): what Silo's tenant connection budget caps. */
    int tenantWindowPeak() {
        return tenantWindowPeak.get();
    }

    int windowPeak() {
        return windowPeak.get();
    }

    int overallPeak() {
        return overallPeak.get();
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        if (thread != null) {
            thread.join(2000);
        }
    }
}

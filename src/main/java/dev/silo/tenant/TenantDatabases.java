package dev.silo.tenant;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.DatabaseAvailability;
import dev.silo.platform.db.Sql;

import javax.sql.DataSource;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import static java.util.Objects.requireNonNull;

/**
 * Connections to tenant databases, always as the tenant's own role (least privilege), never as an admin.
 *
 * <p>Thousands of tenants share one PostgreSQL, whose {@code max_connections} is small (each connection costs
 * the server 1-2 MB). So pools are created on first use, small ({@link Settings#maxPerTenant}), closed when idle,
 * and every physical connection to any tenant database holds one permit of a global budget
 * ({@link Settings#totalConnections}). When the budget is spent, idle pools of other tenants are closed
 * (least recently used first) to free permits; if none can be freed within {@link Settings#acquireTimeout}
 * the request gets a 503 problem {@code busy} with {@code Retry-After}.
 *
 * <p>A database that cannot be reached is not a busy one: while the supervised server is known to be down
 * ({@link DatabaseAvailability}) requests of tenants placed on it get a 503 {@code database-unavailable} at once,
 * and so do those already queued for a connection; a failure to connect met on the way is reported the same.
 */
public final class TenantDatabases implements AutoCloseable {
    public record Settings(int maxPerTenant, Duration idleTimeout, int totalConnections, Duration acquireTimeout) {
        public Settings {
            if (maxPerTenant < 1 || totalConnections < maxPerTenant) {
                throw new IllegalArgumentException("need 1 <= maxPerTenant <= totalConnections");
            }
            requireNonNull(idleTimeout, "idleTimeout is null");
            requireNonNull(acquireTimeout, "acquireTimeout is null");
        }

        public static Settings defaults() {
            return new Settings(4, Duration.ofSeconds(60), 64, Duration.ofSeconds(3));
        }
    }

    /** How often requests waiting for a connection past their deadline are woken (to get a 503 busy). */
    private static final long GATE_SWEEP_MILLIS = 25;
    /** How often a connection adder waiting for the budget looks again for idle pools to close. */
    private static final long BUDGET_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final Settings settings;
    private final Function<Tenant, DatabaseUrl> locate;
    private final Semaphore budget;
    private final Map<UUID, TenantPool> pools = new ConcurrentHashMap<>();
    /** Every pool not yet closed, including retired ones still finishing their requests. */
    private final java.util.Set<TenantPool> allPools = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicLong lastReclaimNanos = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
    private final ScheduledExecutorService sweeper;
    private final java.util.concurrent.ExecutorService closer;
    private final DatabaseAvailability availability;

    public TenantDatabases(Settings settings, Function<Tenant, DatabaseUrl> locate) {
        this(settings, locate, DatabaseAvailability.unsupervised());
    }

    public TenantDatabases(Settings settings, Function<Tenant, DatabaseUrl> locate, DatabaseAvailability availability) {
        this.availability = requireNonNull(availability, "availability is null");
        this.settings = requireNonNull(settings, "settings is null");
        this.locate = requireNonNull(locate, "locate is null");
        this.budget = new Semaphore(settings.totalConnections(), true);
        this.sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("tenant-pool-sweeper").factory());
        // Unbounded on purpose: a close must never queue behind another, or the permits it frees come too late.
        // Platform threads: HikariCP's shutdown blocks inside synchronized code, which pins a virtual thread's
        // carrier on JDK 21 (a burst of closes could stall request handling there).
        this.closer = Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("tenant-pool-closer-", 0).factory());
        long period = Math.max(1000, settings.idleTimeout().toMillis() / 4);
        sweeper.scheduleWithFixedDelay(this::closeIdlePools, period, period, TimeUnit.MILLISECONDS);
        sweeper.scheduleWithFixedDelay(this::expireWaits, GATE_SWEEP_MILLIS, GATE_SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    public <T> T inTransaction(Tenant tenant, Sql.Work<T> work) {
        return lease(tenant, dataSource -> Sql.inTransaction(dataSource, work));
    }

    public <T> T withConnection(Tenant tenant, Sql.Work<T> work) {
        return lease(tenant, dataSource -> Sql.withConnection(dataSource, work));
    }

    /** Closes the tenant's pool (after a suspension, purge or credential change); in-flight work finishes first. */
    public void evict(UUID tenantId) {
        TenantPool pool = pools.remove(tenantId);
        if (pool != null) {
            pool.retire();
        }
    }

    /** Physical connections open to tenant databases right now. */
    public int openConnections() {
        return settings.totalConnections() - budget.availablePermits();
    }

    public int openPools() {
        return pools.size();
    }

    /** The budget {@link #openConnections} never exceeds ({@code SILO_TENANT_CONNECTIONS}). */
    public int connectionBudget() {
        return settings.totalConnections();
    }

    /** Requests waiting now for a connection of their tenant (a snapshot, for metrics). */
    public int waitingRequests() {
        int waiting = 0;
        for (TenantPool pool : allPools) {
            waiting += pool.slots.waiting();
        }
        return waiting;
    }

    /** Open tenant connections that no request holds now (a snapshot, for metrics). */
    public int idleConnections() {
        int idle = 0;
        for (TenantPool pool : allPools) {
            var bean = pool.dataSource.getHikariPoolMXBean();
            idle += bean == null ? 0 : bean.getIdleConnections();
        }
        return idle;
    }

    private <T> T lease(Tenant tenant, Function<DataSource, T> work) {
        while (true) {
            TenantPool pool = pools.computeIfAbsent(tenant.id(), id -> new TenantPool(tenant));
            pool.inUse.incrementAndGet();
            if (pool.retired.get()) {
                pool.release();
                pools.remove(tenant.id(), pool);
                continue;
            }
            pool.lastUsedNanos = System.nanoTime();
            if (availability.isDown(pool.url)) {
                pool.release();
                throw availability.problem();
            }
            // One deadline for the whole wait: the queue for the tenant's connections, then (when the pool must
            // open one) HikariCP's wait for its adder, which may wait for the budget.
            long deadline = pool.lastUsedNanos + settings.acquireTimeout().toNanos();
            try {
                pool.acquireSlot(deadline);
                try {
                    return work.apply(new DeadlineDataSource(pool.dataSource, deadline));
                } finally {
                    pool.slots.release();
                }
            } finally {
                pool.release();
            }
        }
    }

    private void expireWaits() {
        for (TenantPool pool : allPools) {
            if (availability.isDown(pool.url)) {
                pool.slots.expireAll(); // they would wait for connections that cannot be opened
            } else {
                pool.slots.expire();
            }
        }
    }

    /** Closes pools idle for longer than the idle timeout; runs every quarter of it. */
    private void closeIdlePools() {
        long cutoff = System.nanoTime() - settings.idleTimeout().toNanos();
        for (Map.Entry<UUID, TenantPool> entry : pools.entrySet()) {
            TenantPool pool = entry.getValue();
            if (pool.inUse.get() == 0 && pool.lastUsedNanos < cutoff && pools.remove(entry.getKey(), pool)) {
                pool.retire();
            }
        }
    }

    /** Frees permits by closing the least recently used idle pools of other tenants. */
    private void reclaim(UUID requester) {
        long now = System.nanoTime();
        long last = lastReclaimNanos.get();
        if (now - last < BUDGET_SLICE_NANOS / 2 || !lastReclaimNanos.compareAndSet(last, now)) {
            return; // another waiter just did it; the pools it closed are still handing their permits back
        }
        pools.entrySet().stream()
                .filter(e -> !e.getKey().equals(requester) && e.getValue().inUse.get() == 0 && e.getValue().holdsConnections())
                .sorted(Comparator.comparingLong(e -> e.getValue().lastUsedNanos))
                .limit(Math.max(1, budget.getQueueLength()))
                .forEach(e -> {
                    if (pools.remove(e.getKey(), e.getValue())) {
                        e.getValue().retire();
                    }
                });
    }

    @Override
    public void close() {
        for (UUID id : pools.keySet()) {
            evict(id);
        }
        sweeper.shutdownNow();
        closer.shutdown();
        try {
            closer.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private final class TenantPool {
        final DatabaseUrl url;
        final HikariDataSource dataSource;
        final AtomicInteger inUse = new AtomicInteger();
        /** Requests of this tenant queue here, in arrival order, rather than inside HikariCP; see RequestGate. */
        final RequestGate slots = new RequestGate(settings.maxPerTenant());
        final AtomicBoolean retired = new AtomicBoolean();
        final AtomicBoolean closed = new AtomicBoolean();
        volatile long lastUsedNanos = System.nanoTime();

        TenantPool(Tenant tenant) {
            this.url = locate.apply(tenant);
            HikariConfig config = new HikariConfig();
            config.setPoolName("tenant-" + tenant.slug());
            config.setDataSource(new BudgetedDataSource(tenant.id(), url, this));
            config.setMaximumPoolSize(settings.maxPerTenant());
            config.setMinimumIdle(0);
            config.setIdleTimeout(Math.max(10_000, settings.idleTimeout().toMillis()));
            config.setMaxLifetime(Duration.ofMinutes(30).toMillis());
            config.setConnectionTimeout(Math.max(250, settings.acquireTimeout().toMillis()));
            config.setInitializationFailTimeout(-1);
            this.dataSource = new HikariDataSource(config);
            allPools.add(this);
        }

        boolean holdsConnections() {
            var bean = dataSource.getHikariPoolMXBean();
            return bean == null || bean.getTotalConnections() > 0;
        }

        void acquireSlot(long deadlineNanos) {
            if (!slots.acquire(deadlineNanos - System.nanoTime())) {
                if (availability.isDown(url)) {
                    throw availability.problem();
                }
                throw Sql.translate(new SQLTransientConnectionException("all " + settings.maxPerTenant()
                        + " connections of this tenant are in use", "53300"));
            }
        }

        void release() {
            if (inUse.decrementAndGet() == 0 && retired.get()) {
                closeOnce();
            }
        }

        void retire() {
            retired.set(true);
            if (inUse.get() == 0) {
                closeOnce();
            }
        }

        /**
         * Closing a HikariCP pool stops its threads and waits for them; done on a closer thread so that the
         * request that needed the connection budget does not wait for it. The permits come back as the physical
         * connections close, and the waiting request takes one.
         */
        private void closeOnce() {
            if (closed.compareAndSet(false, true)) {
                allPools.remove(this);
                try {
                    closer.execute(dataSource::close);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    dataSource.close();
                }
            }
        }
    }

    /** Opens physical connections only against a permit of the global budget, returned when the connection closes. */
    private final class BudgetedDataSource extends PlainDataSource {
        private final UUID tenantId;
        private final DatabaseUrl url;
        private final TenantPool owner;

        BudgetedDataSource(UUID tenantId, DatabaseUrl url, TenantPool owner) {
            this.tenantId = tenantId;
            this.url = url;
            this.owner = owner;
        }

        /**
         * Called by the pool's own connection adder. Waits for a permit in short slices: at each one it frees
         * permits again by closing the least recently used idle pools (pools go idle all the time while others
         * wait), and it gives up at once when its own pool is being closed, so that closing a pool never waits
         * for its adder (HikariCP's shutdown waits for it).
         */
        @Override
        public Connection getConnection() throws SQLException {
            if (!budget.tryAcquire()) {
                long deadline = System.nanoTime() + settings.acquireTimeout().toNanos();
                try {
                    while (true) {
                        if (owner.closed.get()) {
                            throw new SQLTransientConnectionException("the pool is closing", "53300");
                        }
                        reclaim(tenantId);
                        long left = deadline - System.nanoTime();
                        if (left <= 0) {
                            throw new SQLTransientConnectionException("the tenant connection budget of "
                                    + settings.totalConnections() + " is spent", "53300");
                        }
                        if (budget.tryAcquire(Math.min(left, BUDGET_SLICE_NANOS), TimeUnit.NANOSECONDS)) {
                            break;
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SQLTransientConnectionException("interrupted while waiting for a connection", "53300");
                }
            }
            Connection physical;
            try {
                java.util.Properties properties = url.properties();
                properties.setProperty("ApplicationName", "silo-tenant");
                properties.setProperty("connectTimeout", "10");
                physical = DriverManager.getConnection(url.jdbcUrl(), properties);
            } catch (SQLException | RuntimeException e) {
                budget.release();
                throw e;
            }
            if (owner.closed.get()) {
                // The pool closed while this connection was being opened; HikariCP's shutdown may have stopped
                // waiting for its adder, and would then drop the connection without closing it.
                try {
                    physical.close();
                } finally {
                    budget.release();
                }
                throw new SQLTransientConnectionException("the pool is closing", "53300");
            }
            AtomicBoolean released = new AtomicBoolean();
            return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                    (proxy, method, args) -> {
                        String name = method.getName();
                        try {
                            return method.invoke(physical, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        } finally {
                            // After the close, not before: the permit must not open a new connection while this
                            // one is still open (the server would briefly see one more than the budget). An abort
                            // closes in the background; it only happens to broken connections.
                            if ((name.equals("close") || name.equals("abort")) && released.compareAndSet(false, true)) {
                                budget.release();
                            }
                        }
                    });
        }

    }

    /** One tenant pool seen by one request: borrowing waits only until the request's deadline. */
    private static final class DeadlineDataSource extends PlainDataSource {
        /** A request whose deadline passed in the queue may still take an idle connection. */
        private static final long GRACE_MILLIS = 100;
        private final HikariDataSource dataSource;
        private final long deadlineNanos;

        DeadlineDataSource(HikariDataSource dataSource, long deadlineNanos) {
            this.dataSource = dataSource;
            this.deadlineNanos = deadlineNanos;
        }

        @Override
        public Connection getConnection() throws SQLException {
            long left = Math.max(GRACE_MILLIS, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
            return dataSource.getHikariPoolMXBean() instanceof com.zaxxer.hikari.pool.HikariPool pool
                    ? pool.getConnection(left)
                    : dataSource.getConnection();
        }
    }

    /** The parts of {@link DataSource} nothing here uses. */
    private abstract static class PlainDataSource implements DataSource {
        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            throw new SQLFeatureNotSupportedException("tenant connections use the tenant's own credentials");
        }

        @Override
        public PrintWriter getLogWriter() {
            return null;
        }

        @Override
        public void setLogWriter(PrintWriter out) {}

        @Override
        public void setLoginTimeout(int seconds) {}

        @Override
        public int getLoginTimeout() {
            return 10;
        }

        @Override
        public java.util.logging.Logger getParentLogger() throws SQLFeatureNotSupportedException {
            throw new SQLFeatureNotSupportedException();
        }

        @Override
        public <T> T unwrap(Class<T> type) throws SQLException {
            throw new SQLException("not a wrapper");
        }

        @Override
        public boolean isWrapperFor(Class<?> type) {
            return false;
        }
    }
}

package dev.silo.tenant;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.problem.Unavailable;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Many tenants, bounded connections: lazy pools, a global budget, eviction of idle pools, 503 busy past it. */
class TenantPoolTest {
    private static Silo silo;
    private static final List<Tenant> tenants = new ArrayList<>();

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        for (int i = 0; i < 6; i++) {
            tenants.add(silo.tenants().create(TenantLifecycleTest.slug("pool"), null, Optional.empty(), Actor.SYSTEM));
        }
    }

    private static int select(TenantDatabases databases, Tenant tenant) {
        return databases.withConnection(tenant, connection -> {
            try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery("SELECT 1")) {
                rs.next();
                return rs.getInt(1);
            }
        });
    }

    @Test
    void usingManyTenantsRoundRobinNeverOpensMoreThanTheBudget() {
        try (TenantDatabases databases = new TenantDatabases(new TenantDatabases.Settings(2, Duration.ofSeconds(60), 4,
                Duration.ofSeconds(2)), silo.core().placements()::tenantUrl)) {
            int peak = 0;
            for (int round = 0; round < 3; round++) {
                for (Tenant tenant : tenants) {
                    assertThat(select(databases, tenant)).isEqualTo(1);
                    peak = Math.max(peak, databases.openConnections());
                }
            }
            assertThat(peak).isLessThanOrEqualTo(4).isGreaterThan(0);
            assertThat(databases.openPools()).isLessThanOrEqualTo(4);
        }
    }

    @Test
    void pastTheBudgetARequestWaitsABoundedTimeThenGetsBusy() throws Exception {
        try (TenantDatabases databases = new TenantDatabases(new TenantDatabases.Settings(2, Duration.ofSeconds(60), 2,
                Duration.ofMillis(500)), silo.core().placements()::tenantUrl)) {
            CountDownLatch holding = new CountDownLatch(2);
            CountDownLatch release = new CountDownLatch(1);
            List<CompletableFuture<Integer>> holders = new ArrayList<>();
            var executor = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
            for (int i = 0; i < 2; i++) {
                holders.add(CompletableFuture.supplyAsync(() -> databases.withConnection(tenants.get(0), connection -> {
                    holding.countDown();
                    try {
                        release.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return 1;
                }), executor));
            }
            assertThat(holding.await(20, TimeUnit.SECONDS)).isTrue();
            long started = System.nanoTime();
            assertThatThrownBy(() -> select(databases, tenants.get(1)))
                    .isInstanceOfSatisfying(Unavailable.class, e -> {
                        assertThat(e.type()).isEqualTo("busy");
                        assertThat(e.headers()).containsKey("Retry-After");
                    });
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
            release.countDown();
            for (CompletableFuture<Integer> holder : holders) {
                assertThat(holder.get(20, TimeUnit.SECONDS)).isEqualTo(1);
            }
            // With the holders gone, the other tenant gets its connection (the idle pool is reclaimed).
            assertThat(select(databases, tenants.get(1))).isEqualTo(1);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> databases.openConnections() <= 2);
        }
    }

    @Test
    void evictingAPoolClosesItsConnections() {
        try (TenantDatabases databases = new TenantDatabases(TenantDatabases.Settings.defaults(), silo.core().placements()::tenantUrl)) {
            select(databases, tenants.get(2));
            assertThat(databases.openConnections()).isEqualTo(1);
            databases.evict(tenants.get(2).id());
            // Pools close on a background thread: the connection goes within moments.
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> databases.openConnections() == 0);
        }
    }
}

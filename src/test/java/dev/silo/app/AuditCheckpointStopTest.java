package dev.silo.app;

import dev.silo.audit.Actor;
import dev.silo.audit.AuditAnchors;
import dev.silo.audit.TenantAudit;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A node's first audit checkpoint round covers every active tenant (a connection to each); a stop does not wait
 * for that round, so a node with thousands of tenants still stops within a dyno's 30 s, but it still anchors every
 * log the node itself appended to.
 */
class AuditCheckpointStopTest {
    private static final String PASSWORD = "correct horse battery staple";

    @Test
    void aStopDuringTheStartRoundLeavesTheRestOfItButAnchorsWhatTheNodeAppended() throws Exception {
        Silo shared = TestingSilo.shared();
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        List<Tenant> quiet = IntStream.range(0, 4)
                .mapToObj(i -> shared.tenants().create("ckpt-quiet-" + i + "-" + suffix, null, Optional.empty(), Actor.SYSTEM))
                .toList();
        Tenant written = shared.tenants().create("ckpt-written-" + suffix, null, Optional.empty(), Actor.SYSTEM);
        int active = shared.tenants().list(false).size();

        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        AuditCheckpointJob.beforeTenant = () -> {
            if (calls.getAndIncrement() == 0) {
                held.countDown();
                try {
                    release.await(2, TimeUnit.MINUTES); // a hang guard: the stop interrupts this wait
                } catch (InterruptedException e) {
                    // the stop: carry on with the round, which now leaves the start round's tenants
                }
            }
        };
        Path dataDir;
        try {
            Silo node = TestingSilo.startOnSharedCatalog("ckpt-stop", Map.of());
            dataDir = node.config().dataDir();
            try {
                assertThat(held.await(2, TimeUnit.MINUTES)).as("the start round reached a tenant").isTrue();
                node.core().users().create(written, "ckpt@example.com", "member", PASSWORD, TenantAudit.Context.SYSTEM);
            } finally {
                node.close();
            }
        } finally {
            AuditCheckpointJob.beforeTenant = () -> {};
            release.countDown();
        }

        List<String> lines = Files.readAllLines(dataDir.resolve(AuditAnchors.FILE_NAME));
        assertThat(lines).as("the log this node appended to is anchored at the stop")
                .anyMatch(line -> line.contains(TenantAudit.logName(written.id())));
        long tenantLogs = lines.stream().filter(line -> line.contains("tenant:"))
                .map(line -> line.substring(line.indexOf("tenant:"), line.indexOf("tenant:") + 7 + 36)).distinct().count();
        assertThat(active).as("tenants the start round had to cover").isGreaterThanOrEqualTo(5);
        assertThat(tenantLogs).as("at most the tenant held at the stop and the one written: " + lines).isLessThanOrEqualTo(2);
        assertThat(quiet).as("the quiet tenants were left for the next start")
                .filteredOn(tenant -> lines.stream().anyMatch(line -> line.contains(TenantAudit.logName(tenant.id()))))
                .hasSizeLessThanOrEqualTo(1);
    }
}

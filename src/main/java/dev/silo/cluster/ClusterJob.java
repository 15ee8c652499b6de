package dev.silo.cluster;

import java.util.Arrays;
import java.util.Optional;

/**
 * The background jobs that run on one node of a cluster at a time: whoever holds a job's lease (a session advisory
 * lock in the catalog, {@link ClusterMembership}) runs its rounds. Each job's lock key is its fixed {@code key},
 * never its position, so a job added later does not move the others' keys across a rolling upgrade.
 *
 * <p>Not here, because they are per node: the WAL receiver, base backups, restore drills and backup retention of
 * the node's own embedded PostgreSQL (an embedded server has exactly one node on its catalog), spare tenant
 * databases on it, the audit checkpoints (each node keeps its own checkpoint file of the chain heads it appended
 * to), and the background checks of tenant schemas (each node remembers which tenants it has checked).
 */
public enum ClusterJob {
    /** Interrupted provisionings repaired, purges after the retention window, due secret rotations. */
    TENANT_LIFECYCLE("tenant-lifecycle", 1),
    /** The catalog snapshot every minute, the tenants' daily logical backups, and their retention. */
    LOGICAL_BACKUPS("logical-backups", 2);

    /** The first key of every lease lock (the second is the job's {@code key}). */
    public static final int LEASE_SPACE = 7215030;

    private final String jobName;
    private final int key;

    ClusterJob(String jobName, int key) {
        this.jobName = jobName;
        this.key = key;
    }

    /** The name the API and the logs show. */
    public String jobName() {
        return jobName;
    }

    int key() {
        return key;
    }

    static Optional<ClusterJob> byKey(int key) {
        return Arrays.stream(values()).filter(job -> job.key == key).findFirst();
    }
}

package dev.silo.backup.drill;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * The outcome of one restore drill, as recorded in the platform audit ({@code backup.drill}) and shown by
 * {@code GET /admin/backups} and {@code silo backups status}.
 *
 * @param id            the drill id ({@code yyyyMMdd'T'HHmmss'Z'} of its start)
 * @param passed        whether every page read and every audit chain of the copy is a prefix of the live one
 * @param reason        why it failed (the first problems found, one sentence each); null when it passed
 * @param failure       the kind of failure, a stable type: {@code drill-insufficient-space} (refused before restoring:
 *                      the scratch location has too little free space), {@code drill-restore-failed},
 *                      {@code drill-check-failed}; null when it passed
 * @param startedAt     when it started
 * @param durationMillis how long it took, restore included
 * @param backupId      the base backup restored; null when none could be chosen
 * @param recoveredLsn  where the copy's recovery ended; null when it did not get that far
 * @param recoveredTime the last transaction the copy replayed; null when none or not that far
 * @param pagesRead     pages read through shared buffers (checksums verified) over every database
 * @param bytesRead     {@code pagesRead} times the block size
 * @param databases     what was read and compared, per database
 */
public record DrillResult(String id, boolean passed, String reason, String failure, Instant startedAt, long durationMillis, String backupId,
                          String recoveredLsn, Instant recoveredTime, long pagesRead, long bytesRead,
                          List<DatabaseCheck> databases) {
    public DrillResult {
        requireNonNull(id, "id is null");
        requireNonNull(startedAt, "startedAt is null");
        databases = List.copyOf(databases);
    }

    /**
     * One database of the restored copy.
     *
     * @param name          its name
     * @param tenantId      the tenant whose database it is; null for Silo's catalog and PostgreSQL's own
     * @param relations     relations with storage read page by page
     * @param pages         pages read
     * @param indexesChecked B-tree indexes checked with amcheck's {@code bt_index_check}
     * @param rowsRestored  rows in its tables on the copy
     * @param rowsLive      rows in its tables on the live server now; null when the live server has no such database
     * @param auditSeq      the copy's last audit seq (tenant {@code audit_log}, the catalog's {@code platform_audit});
     *                      null where the database has no audit log or it is empty
     * @param auditMatches  whether the live chain has the same hash at {@code auditSeq}; null where nothing was compared
     */
    public record DatabaseCheck(String name, String tenantId, int relations, long pages, int indexesChecked, long rowsRestored,
                                Long rowsLive, Long auditSeq, Boolean auditMatches) {
        Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("name", name);
            view.put("tenant_id", tenantId);
            view.put("relations", relations);
            view.put("pages", pages);
            view.put("indexes_checked", indexesChecked);
            view.put("rows_restored", rowsRestored);
            view.put("rows_live", rowsLive);
            view.put("audit_seq", auditSeq);
            view.put("audit_matches", auditMatches);
            return view;
        }
    }

    public String outcome() {
        return passed ? "passed" : "failed";
    }

    /** The audit detail and the status view (snake_case keys). */
    public Map<String, Object> view() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", id);
        view.put("outcome", outcome());
        view.put("reason", reason);
        view.put("failure", failure);
        view.put("started_at", startedAt.toString());
        view.put("duration_ms", durationMillis);
        view.put("backup_id", backupId);
        view.put("recovered_lsn", recoveredLsn);
        view.put("recovered_time", recoveredTime == null ? null : recoveredTime.toString());
        view.put("pages_read", pagesRead);
        view.put("bytes_read", bytesRead);
        view.put("databases", databases.stream().map(DatabaseCheck::view).toList());
        return view;
    }
}

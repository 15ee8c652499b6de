package bench;

import java.util.List;
import java.util.concurrent.TimeUnit;

/** A tenant prepared for the benchmark: its admin's access token and some record ids. */
record BenchTenant(String slug, String email, String token, long tokenAt, List<String> recordIds) {
    BenchTenant(String slug, String email, String token, List<String> recordIds) {
        this(slug, email, token, System.nanoTime(), recordIds);
    }

    BenchTenant withToken(String newToken) {
        return new BenchTenant(slug, email, newToken, System.nanoTime(), recordIds);
    }

    BenchTenant withRecords(List<String> ids) {
        return new BenchTenant(slug, email, token, tokenAt, ids);
    }

    /** Access tokens live 15 minutes by default (issue 4): log in again before a phase when 5 have passed. */
    boolean tokenIsOld() {
        return token == null || System.nanoTime() - tokenAt > TimeUnit.MINUTES.toNanos(5);
    }
}

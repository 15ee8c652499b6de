package bench;

/**
 * One measured figure: a rate (per second) with optional latency percentiles, or a latency-only figure
 * (provisioning), or a reason why there is none.
 */
record Measured(String label, double rate, String unit, String cell, String notes, String error, String absent) {
    static Measured notYet(String why) {
        return new Measured(null, 0, null, "not available yet", why, null, why);
    }

    static Measured skipped(String why) {
        return new Measured(null, 0, null, "skipped", why, null, why);
    }

    static Measured error(String message) {
        return new Measured(null, 0, null, "ERROR (see Errors)", null, message, null);
    }

    boolean ok() {
        return error == null && absent == null && rate > 0;
    }

    /** The same figure quoted as a reference in a later row: short, without repeating the notes. */
    Measured asReference(String newLabel, String newNotes) {
        return new Measured(newLabel, rate, unit, newLabel + ": " + Format.rate(rate) + " " + unit, newNotes, error, absent);
    }

    static Measured throughput(String label, double rate, String unit, Latencies latencies, String notes) {
        String text = label == null || label.isEmpty() ? "" : label + ": ";
        text += Format.rate(rate) + " " + unit;
        if (latencies != null && latencies.count() > 0) {
            text += ", p50 " + Format.millis(latencies.percentile(0.50)) + ", p99 " + Format.millis(latencies.percentile(0.99));
        }
        return new Measured(label, rate, unit, text, notes, null, null);
    }

    /** A latency figure; {@code rate} holds 1 / p50 so ratios of two such figures compare p50s. */
    static Measured latency(String label, Latencies latencies, String notes) {
        double p50 = latencies.percentile(0.50);
        String text = (label == null || label.isEmpty() ? "" : label + ": ") + "p50 " + Format.millis(p50)
                + ", p95 " + Format.millis(latencies.percentile(0.95)) + " over " + latencies.count();
        return new Measured(label, 1e9 / p50, "1/p50", text, notes, null, null);
    }
}

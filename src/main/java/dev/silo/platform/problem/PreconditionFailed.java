package dev.silo.platform.problem;

import java.util.Map;

public final class PreconditionFailed extends Problem {
    public PreconditionFailed(String detail) {
        this(detail, Map.of());
    }

    public PreconditionFailed(String detail, Map<String, Object> extensions) {
        super(412, "precondition-failed", "Precondition failed", detail, extensions);
    }
}

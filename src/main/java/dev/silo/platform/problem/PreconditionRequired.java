package dev.silo.platform.problem;

import java.util.Map;

public final class PreconditionRequired extends Problem {
    public PreconditionRequired(String detail) {
        this(detail, Map.of());
    }

    public PreconditionRequired(String detail, Map<String, Object> extensions) {
        super(428, "precondition-required", "Precondition required", detail, extensions);
    }
}

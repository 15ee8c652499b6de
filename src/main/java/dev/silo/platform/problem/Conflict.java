package dev.silo.platform.problem;

import java.util.Map;

public final class Conflict extends Problem {
    public Conflict(String detail) {
        this("conflict", detail);
    }

    public Conflict(String type, String detail) {
        this(type, detail, Map.of());
    }

    public Conflict(String type, String detail, Map<String, Object> extensions) {
        super(409, type, "Conflict", detail, extensions);
    }
}

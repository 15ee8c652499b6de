package dev.silo.platform.problem;

import java.util.Map;

public final class Forbidden extends Problem {
    public Forbidden(String detail) {
        this("forbidden", detail);
    }

    public Forbidden(String type, String detail) {
        this(type, detail, Map.of());
    }

    public Forbidden(String type, String detail, Map<String, Object> extensions) {
        super(403, type, "Forbidden", detail, extensions);
    }
}

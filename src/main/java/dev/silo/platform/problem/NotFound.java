package dev.silo.platform.problem;

import java.util.Map;

public final class NotFound extends Problem {
    public NotFound(String detail) {
        this("not-found", detail);
    }

    public NotFound(String type, String detail) {
        this(type, detail, Map.of());
    }

    public NotFound(String type, String detail, Map<String, Object> extensions) {
        super(404, type, "Not found", detail, extensions);
    }
}

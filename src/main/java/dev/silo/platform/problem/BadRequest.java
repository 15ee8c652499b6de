package dev.silo.platform.problem;

import java.util.Map;

public final class BadRequest extends Problem {
    public BadRequest(String detail) {
        this("bad-request", detail);
    }

    public BadRequest(String type, String detail) {
        this(type, detail, Map.of());
    }

    public BadRequest(String type, String detail, Map<String, Object> extensions) {
        super(400, type, "Bad request", detail, extensions);
    }
}

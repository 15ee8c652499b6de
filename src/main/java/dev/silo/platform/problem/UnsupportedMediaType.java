package dev.silo.platform.problem;

import java.util.Map;

public final class UnsupportedMediaType extends Problem {
    public UnsupportedMediaType(String detail) {
        this(detail, Map.of());
    }

    public UnsupportedMediaType(String detail, Map<String, Object> extensions) {
        super(415, "unsupported-media-type", "Unsupported media type", detail, extensions);
    }
}

package dev.silo.platform.problem;

import java.util.Map;

public final class PayloadTooLarge extends Problem {
    public PayloadTooLarge(String detail) {
        this("payload-too-large", detail);
    }

    public PayloadTooLarge(String type, String detail) {
        this(type, detail, Map.of());
    }

    public PayloadTooLarge(String type, String detail, Map<String, Object> extensions) {
        super(413, type, "Payload too large", detail, extensions);
    }
}

package dev.silo.platform.problem;

import java.util.Map;

/** 431: more request header fields than Silo reads (RFC 6585 section 5). */
public final class HeadersTooLarge extends Problem {
    public HeadersTooLarge(String detail) {
        super(431, "header-too-large", "Request header fields too large", detail, Map.of());
    }
}

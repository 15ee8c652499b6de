package bench;

/**
 * The features the Silo-side rows need, in dependency order. Each is probed once, at run time, by calling the
 * route it adds: a 404 or 405 from the router means "not landed yet" and its rows print "not available yet";
 * a success means the rows run; anything else is an error (the feature landed but not in the shape the
 * harness expects: fix the harness or the feature, see docs/benchmarks.md).
 *
 * <p>To add a feature: add a constant here, a step in {@link Features#probe} that calls its route once, and
 * list it in the {@code needs} of the rows that use it.
 */
enum Feature {
    TENANTS("tenants and the operator API (`POST /admin/tenants`)"),
    TENANT_ADMINS("a tenant's first admin (`POST /admin/tenants/{slug}/admins`)"),
    LOGIN("login (`POST /t/{slug}/auth/login`)"),
    ME("`GET /t/{slug}/me`"),
    RECORDS("the records API (`PUT /t/{slug}/collections/{c}`, `POST|GET .../records`)");

    final String description;

    Feature(String description) {
        this.description = description;
    }
}

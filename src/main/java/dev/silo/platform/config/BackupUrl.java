package dev.silo.platform.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Where the backup store is ({@code SILO_BACKUP_URL}): a local folder or an S3 bucket. Parsed and checked at start.
 */
public sealed interface BackupUrl {
    String SETTING = "SILO_BACKUP_URL";
    /**
     * A file in the data directory naming the store when {@code SILO_BACKUP_URL} is not set: {@code silo restore}
     * writes it so a restored copy writes into a new prefix, never into the store it was restored from.
     */
    String POINTER_FILE = "backup-store.url";

    /** The URL form, for status lines (no credentials: there are none in it). */
    String display();

    /** {@code file:///path}: a folder on this machine. */
    record Folder(Path root) implements BackupUrl {
        public Folder {
            requireNonNull(root, "root is null");
        }

        @Override
        public String display() {
            return root.toUri().toString();
        }
    }

    /**
     * {@code s3://bucket/prefix}.
     *
     * @param endpoint an S3-compatible endpoint ({@code SILO_BACKUP_S3_ENDPOINT}), path-style addressing then
     * @param region   the signing region ({@code SILO_BACKUP_S3_REGION}); empty: the SDK's region chain, else us-east-1
     */
    record S3(String bucket, String prefix, Optional<URI> endpoint, Optional<String> region) implements BackupUrl {
        public S3 {
            requireNonNull(bucket, "bucket is null");
            requireNonNull(prefix, "prefix is null");
            requireNonNull(endpoint, "endpoint is null");
            requireNonNull(region, "region is null");
        }

        @Override
        public String display() {
            return "s3://" + bucket + "/" + prefix;
        }
    }

    /** S3's bucket naming rules, the part that matters here: 3 to 63 lowercase letters, digits, dots and hyphens. */
    Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
    Pattern PREFIX = Pattern.compile("[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*");
    Pattern REGION = Pattern.compile("[a-z0-9-]{2,32}");

    /**
     * The store named by {@code SILO_BACKUP_URL}; when it is not set, the one named in the data directory's
     * {@value #POINTER_FILE} (written by {@code silo restore}); else {@code <data dir>/backups/store}.
     *
     * @throws ConfigException naming the setting when a value is malformed
     */
    static BackupUrl resolve(Map<String, String> env, Path dataDir) {
        String value = env.get(SETTING);
        if (value == null || value.isBlank()) {
            java.nio.file.Path pointer = dataDir.resolve(POINTER_FILE);
            if (java.nio.file.Files.isRegularFile(pointer)) {
                try {
                    value = java.nio.file.Files.readString(pointer).strip();
                } catch (java.io.IOException e) {
                    throw new ConfigException(SETTING, "cannot read " + pointer + " (" + e.getClass().getSimpleName() + ")");
                }
            }
        }
        if (value == null || value.isBlank()) {
            return new Folder(dataDir.resolve("backups").resolve("store"));
        }
        URI uri;
        try {
            uri = new URI(value.strip());
        } catch (URISyntaxException e) {
            throw new ConfigException(SETTING, "not a URL; expected file:///path or s3://bucket/prefix");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
            throw new ConfigException(SETTING, "expected file:///path or s3://bucket/prefix, without user, query or fragment");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        return switch (scheme) {
            case "file" -> folder(uri);
            case "s3" -> s3(uri, env);
            default -> throw new ConfigException(SETTING, "unsupported scheme '" + scheme
                    + "'; expected file:///path or s3://bucket/prefix");
        };
    }

    private static Folder folder(URI uri) {
        if ((uri.getHost() != null && !uri.getHost().isEmpty() && !uri.getHost().equals("localhost"))
                || uri.getPath() == null || !uri.getPath().startsWith("/")) {
            throw new ConfigException(SETTING, "a file URL needs an absolute path, as in file:///var/lib/silo-backups");
        }
        try {
            return new Folder(Path.of(uri.getPath()).normalize());
        } catch (java.nio.file.InvalidPathException e) {
            throw new ConfigException(SETTING, "not a valid path: " + uri.getPath());
        }
    }

    private static S3 s3(URI uri, Map<String, String> env) {
        String bucket = uri.getHost() != null ? uri.getHost() : uri.getAuthority();
        if (bucket == null || bucket.isEmpty()) {
            throw new ConfigException(SETTING, "an s3 URL needs a bucket, as in s3://my-bucket/silo");
        }
        if (!BUCKET.matcher(bucket).matches() || uri.getPort() != -1) {
            throw new ConfigException(SETTING, "'" + bucket + "' is not a valid S3 bucket name "
                    + "(3 to 63 lowercase letters, digits, dots and hyphens)");
        }
        String path = uri.getPath() == null ? "" : uri.getPath();
        String prefix = path.replaceAll("^/+", "").replaceAll("/+$", "");
        if (!prefix.isEmpty() && !PREFIX.matcher(prefix).matches()) {
            throw new ConfigException(SETTING, "the key prefix '" + prefix
                    + "' must be segments of letters, digits, '.', '_' and '-' separated by '/'");
        }
        Optional<URI> endpoint = Optional.ofNullable(env.get("SILO_BACKUP_S3_ENDPOINT")).filter(e -> !e.isBlank())
                .map(BackupUrl::endpoint);
        Optional<String> region = Optional.ofNullable(env.get("SILO_BACKUP_S3_REGION")).filter(r -> !r.isBlank())
                .map(String::strip);
        if (region.isPresent() && !REGION.matcher(region.get()).matches()) {
            throw new ConfigException("SILO_BACKUP_S3_REGION", "expected a region name such as eu-west-1");
        }
        return new S3(bucket, prefix, endpoint, region);
    }

    private static URI endpoint(String value) {
        try {
            URI uri = new URI(value.strip());
            if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null
                    && uri.getRawUserInfo() == null && uri.getRawQuery() == null && uri.getRawFragment() == null) {
                return uri;
            }
        } catch (URISyntaxException e) {
            // reported below
        }
        throw new ConfigException("SILO_BACKUP_S3_ENDPOINT", "expected an http(s) URL such as https://s3.example.com:9000");
    }
}

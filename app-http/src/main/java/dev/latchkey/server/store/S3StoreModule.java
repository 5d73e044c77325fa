package dev.latchkey.server.store;

import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.latchkey.adapters.s3.S3IdentityStore;
import dev.latchkey.adapters.s3.S3StoreConfig;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.server.Closer;
import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.ServerConfig;
import dev.latchkey.server.config.Settings;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The S3 store in bucket {@code LATCHKEY_S3_BUCKET}, under {@code LATCHKEY_S3_PREFIX}, on AWS or on the
 * S3-compatible server at {@code LATCHKEY_S3_ENDPOINT}. It keeps no root key: start-up fails unless
 * {@code LATCHKEY_ROOT_KEY} is set. Credentials are {@code AWS_ACCESS_KEY_ID} / {@code AWS_SECRET_ACCESS_KEY} (and
 * {@code AWS_SESSION_TOKEN}) when the settings hold them, from the environment or the config file; otherwise the
 * standard AWS chain (profile files, container and instance roles). The store is polled for changes; it cannot push.
 * See docs/storage-s3.md.
 */
public final class S3StoreModule
        extends StoreModule
{
    public static final String BUCKET = "LATCHKEY_S3_BUCKET";
    public static final String PREFIX = "LATCHKEY_S3_PREFIX";
    public static final String ENDPOINT = "LATCHKEY_S3_ENDPOINT";
    public static final String REGION = "LATCHKEY_S3_REGION";
    public static final String PATH_STYLE = "LATCHKEY_S3_PATH_STYLE";
    public static final String WRITE_TIMEOUT = "LATCHKEY_S3_WRITE_TIMEOUT";
    public static final String ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID";
    public static final String SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY";
    public static final String SESSION_TOKEN = "AWS_SESSION_TOKEN";
    static final List<String> SETTINGS = List.of(BUCKET, PREFIX, ENDPOINT, REGION, PATH_STYLE, WRITE_TIMEOUT, ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN);

    // what S3 accepts, with the upper case and underscores of the buckets made in us-east-1 before 2018
    private static final Pattern BUCKET_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]");
    private static final Pattern REGION_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*");
    // a write makes about a dozen requests: less than this would give up writes on a healthy store
    private static final Duration MIN_WRITE_TIMEOUT = Duration.ofMillis(500);

    private final S3StoreConfig config;
    private final Optional<AwsCredentials> credentials;

    S3StoreModule(S3StoreConfig config, Optional<AwsCredentials> credentials)
    {
        this.config = requireNonNull(config, "config is null");
        this.credentials = requireNonNull(credentials, "credentials is null");
    }

    static S3StoreModule from(Settings settings)
    {
        String bucket = settings.optional(BUCKET).orElseThrow(() -> new ConfigException(BUCKET + " is required with " + ServerConfig.STORE + "=s3"));
        if (!BUCKET_NAME.matcher(bucket).matches()) {
            throw new ConfigException(BUCKET + " must be a bucket name (3 to 255 letters, digits, '.', '-' or '_', starting and ending with a letter or digit), not '"
                    + bucket + "'");
        }
        String prefix = settings.string(PREFIX, S3StoreConfig.DEFAULT_PREFIX);
        if (!prefix.isEmpty() && (!prefix.endsWith("/") || prefix.startsWith("/"))) {
            throw new ConfigException(PREFIX + " must be empty (the whole bucket) or a key prefix ending with '/' and not starting with it, such as '"
                    + S3StoreConfig.DEFAULT_PREFIX + "', not '" + prefix + "'");
        }
        String region = settings.string(REGION, S3StoreConfig.DEFAULT_REGION);
        if (!REGION_NAME.matcher(region).matches()) {
            throw new ConfigException(REGION + " must be a region name such as " + S3StoreConfig.DEFAULT_REGION + ", not '" + region + "'");
        }
        String pathStyle = settings.string(PATH_STYLE, "false");
        if (!pathStyle.equals("true") && !pathStyle.equals("false")) {
            throw new ConfigException(PATH_STYLE + " must be true or false, not '" + pathStyle + "'");
        }
        Duration writeTimeout = settings.duration(WRITE_TIMEOUT, S3StoreConfig.DEFAULT_WRITE_TIMEOUT);
        if (writeTimeout.compareTo(MIN_WRITE_TIMEOUT) < 0) {
            throw new ConfigException(WRITE_TIMEOUT + " must be at least " + MIN_WRITE_TIMEOUT.toMillis() + "ms, not '" + settings.string(WRITE_TIMEOUT, "") + "'");
        }
        S3StoreConfig config;
        try {
            config = S3StoreConfig.of(bucket)
                    .withPrefix(prefix)
                    .withRegion(region)
                    .withPathStyle(Boolean.parseBoolean(pathStyle))
                    .withWriteTimeout(writeTimeout);
            Optional<URI> endpoint = settings.optional(ENDPOINT).map(S3StoreModule::endpoint);
            if (endpoint.isPresent()) {
                config = config.withEndpoint(endpoint.get());
            }
        }
        catch (IllegalArgumentException e) {
            throw new ConfigException("the S3 store settings are invalid: " + e.getMessage());
        }
        return new S3StoreModule(config, credentials(settings));
    }

    /**
     * An {@code http} or {@code https} URI of a host, with no path, query or user name (the log shows it).
     */
    private static URI endpoint(String text)
    {
        URI uri;
        try {
            uri = new URI(text);
        }
        catch (URISyntaxException e) {
            // not e.getMessage(), which quotes the whole text: it may hold a password
            throw new ConfigException(ENDPOINT + " is not a valid URI: " + e.getReason() + " at index " + e.getIndex());
        }
        if (uri.getRawUserInfo() != null) {
            throw new ConfigException(ENDPOINT + " must not hold a user name or password: set " + ACCESS_KEY_ID + " and " + SECRET_ACCESS_KEY + " instead");
        }
        String scheme = uri.getScheme();
        if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))) {
            throw new ConfigException(ENDPOINT + " must be an http:// or https:// URI such as http://127.0.0.1:9000, not '" + text + "'");
        }
        if (uri.getHost() == null) {
            throw new ConfigException(ENDPOINT + " must name a host (and optionally a port), not '" + text + "'");
        }
        boolean noPath = uri.getRawPath() == null || uri.getRawPath().isEmpty() || uri.getRawPath().equals("/");
        if (!noPath || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new ConfigException(ENDPOINT + " must be the server's address only, with no path, query or fragment, not '" + text + "'");
        }
        return uri;
    }

    /**
     * The access key in the settings, if any; empty for the standard AWS chain. Never echoes the secret.
     */
    private static Optional<AwsCredentials> credentials(Settings settings)
    {
        Optional<String> accessKeyId = settings.optional(ACCESS_KEY_ID);
        Optional<String> secretAccessKey = settings.optional(SECRET_ACCESS_KEY);
        Optional<String> sessionToken = settings.optional(SESSION_TOKEN);
        if (accessKeyId.isEmpty() && secretAccessKey.isEmpty()) {
            if (sessionToken.isPresent()) {
                throw new ConfigException(SESSION_TOKEN + " is set without " + ACCESS_KEY_ID + " and " + SECRET_ACCESS_KEY);
            }
            return Optional.empty();
        }
        if (accessKeyId.isEmpty()) {
            throw new ConfigException(SECRET_ACCESS_KEY + " is set without " + ACCESS_KEY_ID);
        }
        if (secretAccessKey.isEmpty()) {
            throw new ConfigException(ACCESS_KEY_ID + " is set without " + SECRET_ACCESS_KEY);
        }
        if (sessionToken.isPresent()) {
            return Optional.of(AwsSessionCredentials.create(accessKeyId.get(), secretAccessKey.get(), sessionToken.get()));
        }
        return Optional.of(AwsBasicCredentials.create(accessKeyId.get(), secretAccessKey.get()));
    }

    @Override
    protected void configure() {}

    @Provides
    @Singleton
    IdentityStore store(Clock clock, Closer closer)
    {
        return closer.register("store", open(clock));
    }

    @Override
    public IdentityStore open(Clock clock)
    {
        return credentials
                .map(value -> S3IdentityStore.open(config, StaticCredentialsProvider.create(value), clock))
                .orElseGet(() -> S3IdentityStore.open(config, clock));
    }

    @Override
    public String kind()
    {
        return "s3";
    }

    /**
     * The bucket and prefix, the endpoint when it is not AWS's, the region and the addressing style.
     */
    @Override
    public String location()
    {
        return "s3://" + config.bucket() + "/" + config.prefix()
                + config.endpoint().map(endpoint -> " via " + endpoint).orElse("")
                + " (region " + config.region() + (config.pathStyle() ? ", path-style" : "") + ")";
    }

    @Override
    public Optional<String> generatedRootKey()
    {
        return Optional.empty();
    }

    S3StoreConfig config()
    {
        return config;
    }

    /**
     * Whether the credentials come from the settings rather than the standard AWS chain.
     */
    boolean credentialsFromSettings()
    {
        return credentials.isPresent();
    }
}

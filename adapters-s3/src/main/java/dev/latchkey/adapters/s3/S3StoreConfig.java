package dev.latchkey.adapters.s3;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Where the S3 store lives and how long it may wait for S3.
 *
 * @param bucket the bucket (it must exist)
 * @param prefix the key prefix of every object of the store inside the bucket: empty, or ending in {@code /}
 * @param endpoint an endpoint override for S3-compatible servers; empty for AWS's endpoint of the region
 * @param region the region to sign requests for
 * @param pathStyle path-style addressing ({@code http://host/bucket/key}), which most S3-compatible servers need
 * @param connectTimeout how long opening a connection may take
 * @param attemptTimeout how long one HTTP attempt may take
 * @param callTimeout how long one store call may take in all, retries included: an unreachable endpoint fails with
 *         UNAVAILABLE within this
 * @param maxAttempts attempts per S3 request (1 = no retry) for throttling, 5xx and network errors
 * @param feedRetention how many of the newest change-feed entries are kept; older ones are compacted away
 * @param writeTimeout how long a write may try before it is given up, UNAVAILABLE "the store is busy", if it has
 *         not sent its commit by then (the request in flight when it passes finishes first)
 */
public record S3StoreConfig(
        String bucket,
        String prefix,
        Optional<URI> endpoint,
        String region,
        boolean pathStyle,
        Duration connectTimeout,
        Duration attemptTimeout,
        Duration callTimeout,
        int maxAttempts,
        int feedRetention,
        Duration writeTimeout)
{
    public static final String DEFAULT_PREFIX = "latchkey/";
    public static final String DEFAULT_REGION = "us-east-1";
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofMillis(500);
    public static final Duration DEFAULT_ATTEMPT_TIMEOUT = Duration.ofMillis(800);
    public static final Duration DEFAULT_CALL_TIMEOUT = Duration.ofMillis(1800);
    public static final int DEFAULT_MAX_ATTEMPTS = 3;
    public static final int DEFAULT_FEED_RETENTION = 10_000;
    // concurrent writes on one bucket wait for each other (one commit at a time): a shorter default fails bursts
    public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(5);

    public S3StoreConfig
    {
        requireNonNull(bucket, "bucket is null");
        requireNonNull(prefix, "prefix is null");
        requireNonNull(endpoint, "endpoint is null");
        requireNonNull(region, "region is null");
        requireNonNull(connectTimeout, "connectTimeout is null");
        requireNonNull(attemptTimeout, "attemptTimeout is null");
        requireNonNull(callTimeout, "callTimeout is null");
        requireNonNull(writeTimeout, "writeTimeout is null");
        if (bucket.isBlank()) {
            throw new IllegalArgumentException("bucket is blank");
        }
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            throw new IllegalArgumentException("prefix must be empty or end with /");
        }
        if (prefix.startsWith("/")) {
            throw new IllegalArgumentException("prefix must not start with /");
        }
        if (region.isBlank()) {
            throw new IllegalArgumentException("region is blank");
        }
        for (Duration timeout : new Duration[] {connectTimeout, attemptTimeout, callTimeout, writeTimeout}) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeouts must be positive");
            }
        }
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1");
        }
        if (feedRetention < 1) {
            throw new IllegalArgumentException("feedRetention must be positive");
        }
    }

    /**
     * The defaults for everything but the bucket.
     */
    public static S3StoreConfig of(String bucket)
    {
        return new S3StoreConfig(bucket, DEFAULT_PREFIX, Optional.empty(), DEFAULT_REGION, false, DEFAULT_CONNECT_TIMEOUT,
                DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_FEED_RETENTION,
                DEFAULT_WRITE_TIMEOUT);
    }

    public S3StoreConfig withPrefix(String value)
    {
        return new S3StoreConfig(bucket, value, endpoint, region, pathStyle, connectTimeout, attemptTimeout, callTimeout, maxAttempts, feedRetention, writeTimeout);
    }

    public S3StoreConfig withEndpoint(URI value)
    {
        return new S3StoreConfig(bucket, prefix, Optional.of(value), region, pathStyle, connectTimeout, attemptTimeout, callTimeout, maxAttempts, feedRetention, writeTimeout);
    }

    public S3StoreConfig withRegion(String value)
    {
        return new S3StoreConfig(bucket, prefix, endpoint, value, pathStyle, connectTimeout, attemptTimeout, callTimeout, maxAttempts, feedRetention, writeTimeout);
    }

    public S3StoreConfig withPathStyle(boolean value)
    {
        return new S3StoreConfig(bucket, prefix, endpoint, region, value, connectTimeout, attemptTimeout, callTimeout, maxAttempts, feedRetention, writeTimeout);
    }

    public S3StoreConfig withTimeouts(Duration connect, Duration attempt, Duration call)
    {
        return new S3StoreConfig(bucket, prefix, endpoint, region, pathStyle, connect, attempt, call, maxAttempts, feedRetention, writeTimeout);
    }

    public S3StoreConfig withMaxAttempts(int value)
    {
        return new S3StoreConfig(bucket, prefix, endpoint, region, pathStyle, connectTimeout, attemptTimeout, callTimeout, value, feedRetention, writeTimeout);
    }

    public S3StoreConfig withWriteTimeout(Duration value)
    {
        return new S3StoreConfig(bucket, prefix, endpoint, region, pathStyle, connectTimeout, attemptTimeout, callTimeout, maxAttempts, feedRetention, value);
    }

    public S3StoreConfig withFeedRetention(int value)
    {
        return new S3StoreConfig(bucket, prefix, endpoint, region, pathStyle, connectTimeout, attemptTimeout, callTimeout, maxAttempts, value, writeTimeout);
    }
}

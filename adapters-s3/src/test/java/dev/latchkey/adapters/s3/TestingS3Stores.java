package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.TestingS3;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Opens S3 stores on the shared S3Mock, each on a fresh prefix, and closes them all at the end of a test.
 */
final class TestingS3Stores
{
    private final List<S3IdentityStore> opened = new ArrayList<>();
    private final Map<S3IdentityStore, S3StoreConfig> configs = new IdentityHashMap<>();

    /**
     * A store on a fresh prefix of the shared bucket, reached through {@code endpoint} (S3Mock itself, or a proxy in
     * front of it).
     */
    S3IdentityStore open(URI endpoint, Clock clock)
    {
        return open(config(endpoint, TestingS3.uniquePrefix("store")), clock);
    }

    S3IdentityStore open(S3StoreConfig config, Clock clock)
    {
        return open(config, clock, S3IdentityStore.CrashPoints.NONE);
    }

    /**
     * A handle whose writes stop where {@code crashPoints} throws, as if its process were killed there.
     */
    S3IdentityStore open(S3StoreConfig config, Clock clock, S3IdentityStore.CrashPoints crashPoints)
    {
        S3IdentityStore store = S3IdentityStore.open(config, credentials(), clock, crashPoints);
        opened.add(store);
        configs.put(store, config);
        return store;
    }

    /**
     * Another handle on the same prefix, as another instance would open it.
     */
    S3IdentityStore openAnother(S3IdentityStore store, Clock clock)
    {
        return open(configs.get(store), clock);
    }

    /**
     * Waits until every write the handle committed is applied and its accounts settled ({@link S3IdentityStore#awaitFinished}), for
     * at most 30 s.
     */
    static void awaitFinished(S3IdentityStore store)
    {
        try {
            store.awaitFinished(Duration.ofSeconds(30));
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    static S3StoreConfig config(URI endpoint, String prefix)
    {
        return S3StoreConfig.of(TestingS3.SHARED_BUCKET)
                .withEndpoint(endpoint)
                .withPathStyle(true)
                .withPrefix(prefix);
    }

    static StaticCredentialsProvider credentials()
    {
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(TestingS3.ACCESS_KEY, TestingS3.SECRET_KEY));
    }

    void closeAll()
    {
        opened.forEach(S3IdentityStore::close);
        opened.clear();
        configs.clear();
    }

    static Clock systemClock()
    {
        return Clock.systemUTC();
    }
}

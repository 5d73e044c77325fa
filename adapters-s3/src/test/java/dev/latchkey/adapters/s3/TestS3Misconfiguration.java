package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A store pointed at a bucket that does not exist is unavailable, not empty: its 404s (NoSuchBucket) must not read as
 * "no such key", which would answer 401 for every key and report a healthy, empty feed.
 */
class TestS3Misconfiguration
{
    private final TestingS3Stores stores = new TestingS3Stores();

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    @Test
    void missingBucketIsUnavailableForReadsFeedAndWrites()
    {
        S3StoreConfig config = S3StoreConfig.of("no-such-bucket-here")
                .withEndpoint(TestingS3.shared().endpoint())
                .withPathStyle(true)
                .withPrefix(TestingS3.uniquePrefix("missing"));
        S3IdentityStore store = stores.open(config, new TestingClock());

        assertUnavailable(() -> store.findKey(KeyId.of("0123456789abcdef")));
        assertUnavailable(() -> store.findAccount(AccountId.of("acme")));
        assertUnavailable(() -> store.changesAfter(FeedPosition.START, 10));
        assertUnavailable(store::headPosition);
        assertUnavailable(store::listAccounts);
        assertUnavailable(() -> store.deleteAccount(AccountId.of("acme")));
    }

    private static void assertUnavailable(Executable call)
    {
        assertThatThrownBy(call::execute)
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
                .hasMessageContaining("S3 answered 404 NoSuchBucket");
    }
}

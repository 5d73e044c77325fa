package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.SerializingS3Proxy;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.security.SecureRandom;

import static java.util.Objects.requireNonNull;

/**
 * Tests of S3 store handles behind the shared serializing proxy (which counts their requests), each test under a
 * prefix of its own: the handles opened are closed after it.
 */
abstract class ProxiedS3StoreTest
{
    protected final TestingS3Stores stores = new TestingS3Stores();
    protected final TestingClock clock = new TestingClock();
    protected final SerializingS3Proxy proxy = TestingS3.shared().serializingProxy();
    protected S3StoreConfig config;

    private final String prefixName;
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();

    /**
     * @param prefixName how the prefix of each test begins
     */
    protected ProxiedS3StoreTest(String prefixName)
    {
        this.prefixName = requireNonNull(prefixName, "prefixName is null");
    }

    @BeforeEach
    void setUpPrefix()
    {
        config = TestingS3Stores.config(proxy.endpoint(), TestingS3.uniquePrefix(prefixName));
    }

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    /**
     * A new user with a random key of its own.
     */
    protected NewUser newUser(AccountId account, String userId, Role role)
    {
        ApiKey key = keys.random();
        return new NewUser(new User(account, UserId.of(userId), role, key.keyId(), clock.instant()), hasher.hash(key));
    }
}

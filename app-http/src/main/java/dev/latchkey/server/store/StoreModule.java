package dev.latchkey.server.store;

import com.google.inject.AbstractModule;
import dev.latchkey.core.store.IdentityStore;

import java.time.Clock;
import java.util.Optional;

/**
 * The Guice module of one store adapter: binds {@link IdentityStore} and says what it is.
 */
public abstract class StoreModule
        extends AbstractModule
{
    /**
     * The value of {@code LATCHKEY_STORE} that selects this store.
     */
    public abstract String kind();

    /**
     * Where the store is, for the start-up log line (never a secret).
     */
    public abstract String location();

    /**
     * The root key to use when {@code LATCHKEY_ROOT_KEY} is not set, if this store can keep one; empty when start-up
     * must fail instead.
     */
    public abstract Optional<String> generatedRootKey();

    /**
     * Opens the store, outside any injector (the store tools); the caller closes it. The module's own binding
     * opens it the same way.
     */
    public abstract IdentityStore open(Clock clock);
}

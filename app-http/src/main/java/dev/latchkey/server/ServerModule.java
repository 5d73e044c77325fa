package dev.latchkey.server;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.RootKey;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.server.config.ServerConfig;
import dev.latchkey.server.http.HttpApi;
import dev.latchkey.server.metrics.HttpRequestMetrics;
import dev.latchkey.server.metrics.JvmMetrics;
import dev.latchkey.server.metrics.MicrometerResolverStats;
import dev.latchkey.server.store.StoreModule;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.security.SecureRandom;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

import static java.util.Objects.requireNonNull;

/**
 * Builds the server's objects: core classes carry no framework annotations, so each is made here.
 */
final class ServerModule
        extends AbstractModule
{
    private static final int LOOKUP_THREADS = 8;

    private final ServerConfig config;
    private final RootKey rootKey;
    private final StoreModule store;

    ServerModule(ServerConfig config, RootKey rootKey, StoreModule store)
    {
        this.config = requireNonNull(config, "config is null");
        this.rootKey = requireNonNull(rootKey, "rootKey is null");
        this.store = requireNonNull(store, "store is null");
    }

    @Override
    protected void configure()
    {
        binder().requireExplicitBindings();
        binder().disableCircularProxies();
        install(store);
    }

    @Provides
    @Singleton
    Clock clock()
    {
        return Clock.systemUTC();
    }

    @Provides
    @Singleton
    SecretHasher hasher()
    {
        return config.pepper().map(SecretHasher::hmacSha256).orElseGet(SecretHasher::sha256);
    }

    @Provides
    @Singleton
    PrometheusMeterRegistry registry()
    {
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    @Provides
    @Singleton
    JvmMetrics jvmMetrics(PrometheusMeterRegistry registry)
    {
        return new JvmMetrics(registry);
    }

    @Provides
    @Singleton
    IdentityResolver resolver(IdentityStore identityStore, SecretHasher hasher, PrometheusMeterRegistry registry, Clock clock)
    {
        IdentityResolver resolver = new IdentityResolver(identityStore, hasher, Optional.of(rootKey), config.resolver(),
                new MicrometerResolverStats(registry), lookupExecutor(), Ticker.systemTicker(), clock);
        Gauge.builder("latchkey.feed.lag", resolver, value -> value.feedLag().toNanos() / 1e9)
                .baseUnit("seconds")
                .description("Time since the change feed was last read successfully")
                .register(registry);
        Gauge.builder("latchkey.cache.keys", resolver, IdentityResolver::cachedKeys)
                .description("Keys in the positive cache")
                .register(registry);
        return resolver;
    }

    @Provides
    @Singleton
    AdminService admin(IdentityStore identityStore, SecretHasher hasher, Clock clock, IdentityResolver resolver)
    {
        return new AdminService(identityStore, new ApiKeyGenerator(new SecureRandom()), hasher, clock, resolver);
    }

    @Provides
    @Singleton
    HttpApi api(AdminService admin, IdentityResolver resolver, PrometheusMeterRegistry registry)
    {
        // a body is one JSON value: anything after it makes the request malformed, not ignored
        ObjectMapper mapper = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
        return new HttpApi(admin, resolver, registry, new HttpRequestMetrics(registry), mapper, store.kind(), config.readyMaxLag());
    }

    private static ExecutorService lookupExecutor()
    {
        AtomicInteger threads = new AtomicInteger();
        ThreadFactory factory = runnable -> {
            Thread thread = new Thread(runnable, "latchkey-lookup-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
        return Executors.newFixedThreadPool(LOOKUP_THREADS, factory);
    }
}

package dev.latchkey.server;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.name.Named;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.RootKey;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.server.cluster.Confirmations;
import dev.latchkey.server.cluster.InstancePresence;
import dev.latchkey.server.cluster.PeerPositions;
import dev.latchkey.server.cluster.PeerToken;
import dev.latchkey.server.config.ServerConfig;
import dev.latchkey.server.http.HttpApi;
import dev.latchkey.server.metrics.HttpRequestMetrics;
import dev.latchkey.server.metrics.JvmMetrics;
import dev.latchkey.server.metrics.MicrometerResolverStats;
import dev.latchkey.server.store.StoreModule;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static java.util.Objects.requireNonNull;

/**
 * Builds the server's objects: core classes carry no framework annotations, so each is made here.
 */
final class ServerModule
        extends AbstractModule
{
    private static final int LOOKUP_THREADS = 8;
    private static final String LOOKUPS = "lookups";
    private static final String FEED = "feed";
    private static final Duration AUDIT_PURGE_INTERVAL = Duration.ofHours(1);
    private static final Logger LOG = LoggerFactory.getLogger(ServerModule.class);

    private final ServerConfig config;
    private final RootKey rootKey;
    private final PeerToken peerToken;
    private final StoreModule store;
    private final Closer closer;

    /**
     * @param closer where each resource made here is registered, to be closed with the server (made outside the
     *         injector, so that what a failed start made is closed too)
     */
    ServerModule(ServerConfig config, RootKey rootKey, PeerToken peerToken, StoreModule store, Closer closer)
    {
        this.config = requireNonNull(config, "config is null");
        this.rootKey = requireNonNull(rootKey, "rootKey is null");
        this.peerToken = requireNonNull(peerToken, "peerToken is null");
        this.store = requireNonNull(store, "store is null");
        this.closer = requireNonNull(closer, "closer is null");
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
    Closer closer()
    {
        return closer;
    }

    @Provides
    @Singleton
    PrometheusMeterRegistry registry(Closer closer)
    {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        closer.register("metrics registry", registry::close);
        return registry;
    }

    @Provides
    @Singleton
    JvmMetrics jvmMetrics(PrometheusMeterRegistry registry, Closer closer)
    {
        return closer.register("JVM metrics", new JvmMetrics(registry));
    }

    /**
     * Runs the resolver's store lookups (cache misses and refreshes), off the request threads.
     */
    @Provides
    @Singleton
    @Named(LOOKUPS)
    ExecutorService lookupExecutor(Closer closer)
    {
        return closer.registerExecutor("lookup executor", Executors.newFixedThreadPool(LOOKUP_THREADS, daemonThreads("latchkey-lookup-")));
    }

    /**
     * Reads the change feed every poll interval (and when a store wakes it up).
     */
    @Provides
    @Singleton
    @Named(FEED)
    ScheduledExecutorService feedPoller(Closer closer)
    {
        return closer.registerExecutor("feed poller", Executors.newSingleThreadScheduledExecutor(daemonThreads("latchkey-feed-")));
    }

    /**
     * The resolver, following the change feed from the moment it is made.
     */
    @Provides
    @Singleton
    IdentityResolver resolver(IdentityStore identityStore, SecretHasher hasher, PrometheusMeterRegistry registry, Clock clock,
            @Named(LOOKUPS) ExecutorService lookups, @Named(FEED) ScheduledExecutorService poller, Closer closer)
    {
        IdentityResolver resolver = new IdentityResolver(identityStore, hasher, Optional.of(rootKey), config.resolver(),
                new MicrometerResolverStats(registry), lookups, Ticker.systemTicker(), clock);
        resolver.start(poller);
        closer.register("resolver", resolver);
        scheduleUsageAndRetention(resolver, identityStore, clock, closer);
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
        return new AdminService(identityStore, new ApiKeyGenerator(new SecureRandom()), hasher, clock, resolver).onInstance(config.instanceId());
    }

    /**
     * This instance's record in the instance registry, written from {@link LatchkeyServer#start} on (once the port is
     * known) and removed at a clean stop, before the store closes.
     */
    @Provides
    @Singleton
    InstancePresence presence(IdentityStore identityStore, IdentityResolver resolver, Clock clock, Closer closer)
    {
        return closer.register("instance registry", new InstancePresence(identityStore, resolver, clock, config.instanceId(), Main.buildVersion(), config.heartbeat(),
                config.resolver().pollInterval()));
    }

    @Provides
    @Singleton
    Confirmations confirmations(IdentityStore identityStore, IdentityResolver resolver, InstancePresence presence, Clock clock, Closer closer)
    {
        return closer.register("confirmations", new Confirmations(identityStore, resolver, presence, new PeerPositions(peerToken, new ObjectMapper()), clock));
    }

    @Provides
    @Singleton
    HttpApi api(AdminService admin, IdentityResolver resolver, PrometheusMeterRegistry registry, Confirmations confirmations, InstancePresence presence)
    {
        // a body is one JSON value: anything after it makes the request malformed, not ignored
        ObjectMapper mapper = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
        return new HttpApi(admin, resolver, registry, new HttpRequestMetrics(registry), mapper, store.kind(), config.readyMaxLag(), config.auditRetention(),
                confirmations, presence, peerToken, config.waitTimeout());
    }

    /**
     * Flushes the keys this instance served every usage-flush interval, and once more when the server stops (after
     * the last request; a crash loses at most one interval); purges the audit trail past its retention every hour.
     * On a thread of their own: a slow store must not delay the feed polls.
     */
    private void scheduleUsageAndRetention(IdentityResolver resolver, IdentityStore identityStore, Clock clock, Closer closer)
    {
        ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(daemonThreads("latchkey-usage-"));
        long flushMillis = config.usageFlush().toMillis();
        executor.scheduleWithFixedDelay(() -> resolver.flushUsage(config.instanceId()), flushMillis, flushMillis, TimeUnit.MILLISECONDS);
        executor.scheduleWithFixedDelay(() -> purgeAudit(identityStore, clock), 1, AUDIT_PURGE_INTERVAL.toMinutes(), TimeUnit.MINUTES);
        closer.register("usage flush", () -> {
            executor.shutdownNow();
            resolver.flushUsage(config.instanceId());
        });
    }

    private void purgeAudit(IdentityStore identityStore, Clock clock)
    {
        try {
            identityStore.purgeAudit(clock.instant().minus(config.auditRetention()));
        }
        catch (RuntimeException e) {
            LOG.warn("purging the audit trail past its retention failed; the next purge retries: {}", e.getMessage());
        }
    }

    private static ThreadFactory daemonThreads(String prefix)
    {
        AtomicInteger threads = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}

package dev.latchkey.server;

import com.google.inject.CreationException;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Stage;
import com.google.inject.spi.Message;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.RootKey;
import dev.latchkey.server.cluster.InstancePresence;
import dev.latchkey.server.cluster.PeerToken;
import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.ServerConfig;
import dev.latchkey.server.config.Settings;
import dev.latchkey.server.http.HttpApi;
import dev.latchkey.server.http.VerifyListener;
import dev.latchkey.server.store.StoreModule;
import dev.latchkey.server.store.StoreModules;
import io.javalin.Javalin;
import io.javalin.util.JavalinBindException;
import org.eclipse.jetty.server.ServerConnector;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import static java.util.Objects.requireNonNull;

/**
 * A running Latchkey server: the store, the resolver polling its change feed, and the HTTP API.
 */
public final class LatchkeyServer
        implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(LatchkeyServer.class);

    private final Javalin http;
    private final HttpApi api;
    private final @Nullable VerifyListener verify;
    private final Closer closer;
    private final Duration shutdownDrain;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private LatchkeyServer(Javalin http, HttpApi api, @Nullable VerifyListener verify, Closer closer, Duration shutdownDrain)
    {
        this.http = requireNonNull(http, "http is null");
        this.api = requireNonNull(api, "api is null");
        this.verify = verify;
        this.closer = requireNonNull(closer, "closer is null");
        this.shutdownDrain = requireNonNull(shutdownDrain, "shutdownDrain is null");
    }

    /**
     * Every setting the server reads, the stores' included.
     */
    public static List<String> settingNames()
    {
        return Stream.of(ServerConfig.SETTINGS, StoreModules.SETTINGS).flatMap(List::stream).toList();
    }

    /**
     * Starts a server with these settings.
     *
     * @throws ConfigException when a setting is missing or malformed (the message names it)
     * @throws LatchkeyException when the store cannot be opened (UNAVAILABLE: unreachable)
     */
    public static LatchkeyServer start(Settings settings)
    {
        ServerConfig config = ServerConfig.from(settings);
        List<String> unknown = settings.unknown(settingNames());
        if (!unknown.isEmpty()) {
            LOG.warn("unknown settings ignored (check the spelling; docs/configuration.md lists every setting): {}", String.join(", ", unknown));
        }
        StoreModule store = StoreModules.select(config.storeKind(), settings);
        String rootKey = config.rootKey()
                .or(store::generatedRootKey)
                .orElseThrow(() -> new ConfigException(ServerConfig.ROOT_KEY + " is required with the " + store.kind() + " store"));
        Closer closer = new Closer();
        try {
            Injector injector = createInjector(new ServerModule(config, new RootKey(rootKey), PeerToken.derive(rootKey), store, closer));
            LOG.info("store: {} at {}", store.kind(), store.location());
            config.defaultAccount().ifPresent(account -> createDefaultAccount(injector.getInstance(AdminService.class), account));

            HttpApi api = injector.getInstance(HttpApi.class);
            Javalin http = api.create(config.host(), config.port());
            closer.register("HTTP server", http::stop);
            try {
                http.start();
            }
            catch (JavalinBindException e) {
                throw new ConfigException("cannot listen on " + config.host() + ":" + config.port() + " (" + ServerConfig.HTTP_HOST + ", "
                        + ServerConfig.HTTP_PORT + "): " + bindFailure(e));
            }
            LOG.info("listening on {}:{}", config.host(), http.port());
            VerifyListener verify = null;
            if (config.verifyPort().isPresent()) {
                verify = closer.register("verify port", api.verifyListener(config.host(), config.verifyPort().getAsInt(), config.verifyThreads()));
                try {
                    verify.start();
                }
                catch (IllegalStateException e) {
                    throw new ConfigException("cannot listen on " + config.host() + ":" + config.verifyPort().getAsInt() + " (" + ServerConfig.HTTP_HOST + ", "
                            + ServerConfig.VERIFY_PORT + "): " + e.getMessage());
                }
                LOG.info("verify port listening on {}:{} ({} thread(s))", config.host(), verify.port(), config.verifyThreads());
            }
            String advertised = config.advertisedUrl().orElseGet(() -> defaultAdvertisedUrl(config.host(), http.port()));
            injector.getInstance(InstancePresence.class).start(advertised);
            LOG.info("instance {}, reached by the other instances at {}", config.instanceId(), advertised);
            return new LatchkeyServer(http, api, verify, closer, config.shutdownDrain());
        }
        catch (RuntimeException e) {
            closer.close();
            throw e;
        }
    }

    /**
     * The injector, which makes every singleton at once (the store connects, the JDBC store migrates its schema).
     *
     * @throws LatchkeyException when making one failed for a reason of the store's (unreachable, for one), as is
     */
    private static Injector createInjector(ServerModule module)
    {
        try {
            return Guice.createInjector(Stage.PRODUCTION, module);
        }
        catch (CreationException e) {
            for (Message message : e.getErrorMessages()) {
                if (message.getCause() instanceof LatchkeyException cause) {
                    throw cause;
                }
            }
            throw e;
        }
    }

    /**
     * Why the address could not be bound, from the innermost cause that says (Javalin's own message always blames a
     * port in use, even for a host name that does not resolve).
     */
    private static String bindFailure(JavalinBindException e)
    {
        String reason = "the address cannot be bound";
        for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
            if (cause.getMessage() != null) {
                reason = cause.getMessage();
            }
            else if (cause instanceof UnresolvedAddressException) {
                reason = "the host name does not resolve";
            }
        }
        return reason;
    }

    /**
     * Where the other instances reach this one when {@code LATCHKEY_ADVERTISED_URL} does not say: the listening
     * address, or this machine's host name when it listens on every address.
     */
    static String defaultAdvertisedUrl(String host, int port)
    {
        String name = host;
        if (host.isEmpty() || "0.0.0.0".equals(host) || "::".equals(host) || "[::]".equals(host)) {
            try {
                name = InetAddress.getLocalHost().getHostName();
            }
            catch (UnknownHostException e) {
                name = "localhost";
            }
        }
        if (name.contains(":") && !name.startsWith("[")) {
            name = "[" + name + "]";
        }
        return "http://" + name + ":" + port;
    }

    private static void createDefaultAccount(AdminService admin, AccountId account)
    {
        try {
            if (admin.createDefaultAccount(account)) {
                LOG.info("created the empty account '{}'", account);
            }
        }
        catch (LatchkeyException e) {
            LOG.warn("could not create the account '{}' now: {}", account, e.getMessage());
        }
    }

    public int port()
    {
        return http.port();
    }

    /**
     * The verify port bound, if {@code LATCHKEY_VERIFY_PORT} asked for one.
     */
    public OptionalInt verifyPort()
    {
        return verify == null ? OptionalInt.empty() : OptionalInt.of(verify.port());
    }

    /**
     * The selector threads of the HTTP connector, which answer verify: one per core the JVM sees.
     */
    public int selectorThreads()
    {
        return ((ServerConnector) http.jettyServer().server().getConnectors()[0]).getSelectorManager().getSelectorCount();
    }

    /**
     * Every route the HTTP API serves, as {@code METHOD /path/{param}}, sorted: what the API's documentation must
     * describe.
     */
    public List<String> routes()
    {
        return http.unsafe.internalRouter.allHttpHandlers().stream()
                .filter(handler -> handler.endpoint.method.isHttpMethod())
                .map(handler -> handler.endpoint.method.name() + " " + handler.endpoint.path)
                .distinct()
                .sorted()
                .toList();
    }

    /**
     * Blocks until {@link #close()}.
     */
    public void awaitStop()
            throws InterruptedException
    {
        stopped.await();
    }

    /**
     * A clean stop, as on SIGTERM: for {@code LATCHKEY_SHUTDOWN_DRAIN}, {@code /ready} answers 503 while every
     * request is still served, so that load balancers stop sending requests here first; then {@link #close()}.
     */
    public void drainAndClose()
    {
        if (!shutdownDrain.isZero()) {
            api.startDraining();
            LOG.info("draining for {} ms: /ready answers 503", shutdownDrain.toMillis());
            try {
                Thread.sleep(shutdownDrain.toMillis());
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        close();
    }

    /**
     * Closes everything the server started, in reverse order of start ({@link Closer}): first the HTTP server (no new
     * connections; requests in flight get up to 30 s to finish), then the resolver and its threads, the metrics, and
     * last the store (its connections, for the stores that hold some).
     */
    @Override
    public void close()
    {
        LOG.info("stopping");
        closer.close();
        stopped.countDown();
        LOG.info("stopped");
    }
}

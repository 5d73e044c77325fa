package dev.latchkey.server.store;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.server.LatchkeyServer;
import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.Settings;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * LATCHKEY_STORE=jdbc: its settings, and a server on an embedded H2 database.
 */
class TestJdbcStoreModule
{
    private static final String ROOT_KEY = "root-key-for-the-jdbc-store-module-test-0123456789";

    @Test
    void theUrlIsRequired()
    {
        assertThatThrownBy(() -> StoreModules.select("jdbc", Settings.of(Map.of())))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("LATCHKEY_JDBC_URL");
        assertThatThrownBy(() -> StoreModules.select("jdbc", Settings.of(Map.of("LATCHKEY_JDBC_URL", "jdbc:mysql://db/latchkey"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("PostgreSQL");
        assertThatThrownBy(() -> StoreModules.select("jdbc", Settings.of(Map.of("LATCHKEY_JDBC_URL", "jdbc:h2:mem:x", "LATCHKEY_JDBC_MIGRATE", "yes"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("LATCHKEY_JDBC_MIGRATE");
    }

    @Test
    void theLoggedLocationLeavesOutUrlParameters()
    {
        StoreModule postgres = StoreModules.select("jdbc", Settings.of(Map.of(
                "LATCHKEY_JDBC_URL", "jdbc:postgresql://db.example:5432/latchkey?user=latchkey&password=secret",
                "LATCHKEY_JDBC_PASSWORD", "other-secret")));
        assertThat(postgres.kind()).isEqualTo("jdbc");
        assertThat(postgres.location()).isEqualTo("jdbc:postgresql://db.example:5432/latchkey");
        assertThat(postgres.generatedRootKey()).isEmpty();

        StoreModule h2 = StoreModules.select("jdbc", Settings.of(Map.of("LATCHKEY_JDBC_URL", "jdbc:h2:mem:latchkey;PASSWORD=secret")));
        assertThat(h2.location()).isEqualTo("jdbc:h2:mem:latchkey");
    }

    @Test
    void startUpFailsWithoutARootKey()
    {
        assertThatThrownBy(() -> LatchkeyServer.start(Settings.of(Map.of(
                "LATCHKEY_STORE", "jdbc",
                "LATCHKEY_JDBC_URL", "jdbc:h2:mem:no-root-key;DB_CLOSE_DELAY=-1",
                "LATCHKEY_HTTP_PORT", "0"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("LATCHKEY_ROOT_KEY");
    }

    @Test
    void anUnreachableDatabaseToMigrateFailsStartUpAsUnavailable()
            throws IOException
    {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        Map<String, String> settings = Map.of(
                "LATCHKEY_STORE", "jdbc",
                "LATCHKEY_JDBC_URL", "jdbc:postgresql://127.0.0.1:" + closedPort + "/latchkey",
                "LATCHKEY_JDBC_PASSWORD", "a-database-password",
                "LATCHKEY_ROOT_KEY", ROOT_KEY,
                "LATCHKEY_HTTP_PORT", "0");

        assertThatThrownBy(() -> LatchkeyServer.start(Settings.of(settings)).close())
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
                .message().contains("database").doesNotContain("a-database-password");
    }

    @Test
    void aServerOnH2IsReadyAndWrites()
            throws Exception
    {
        try (LatchkeyServer server = LatchkeyServer.start(Settings.of(Map.of(
                "LATCHKEY_STORE", "jdbc",
                "LATCHKEY_JDBC_URL", "jdbc:h2:mem:server;DB_CLOSE_DELAY=-1",
                "LATCHKEY_ROOT_KEY", ROOT_KEY,
                "LATCHKEY_HTTP_PORT", "0")))) {
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            String base = "http://127.0.0.1:" + server.port();

            HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create(base + "/ready")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).as("/ready: %s", ready.body()).isEqualTo(200);

            HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/admin/accounts"))
                            .header("X-API-Key", ROOT_KEY)
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"account_id\":\"acme\",\"admin_user_id\":\"alice\"}"))
                            .timeout(Duration.ofSeconds(10))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(created.statusCode()).as("create account: %s", created.body()).isEqualTo(200);
            assertThat(created.body()).contains("\"user_key\"");
        }
    }
}

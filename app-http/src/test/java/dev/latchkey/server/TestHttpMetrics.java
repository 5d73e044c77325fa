package dev.latchkey.server;

import dev.latchkey.server.metrics.HttpRequestMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.latchkey.server.TestingLatchkeyServer.usersPath;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.TestInstance.Lifecycle.PER_CLASS;

/**
 * {@code /metrics}: Micrometer's JVM and process meters, and HTTP requests counted by route template, method and
 * status (never by raw path), for the verify fast path and Javalin's routes alike.
 */
@TestInstance(PER_CLASS)
public class TestHttpMetrics
{
    private static final Duration DEADLINE = Duration.ofSeconds(5);
    private static final Pattern REQUESTS = Pattern.compile("(?m)^http_server_requests_seconds_count\\{(.*)} (\\S+)$");

    private TestingLatchkeyServer server;

    @BeforeAll
    public void start(@TempDir Path directory)
    {
        server = TestingLatchkeyServer.start(directory);
    }

    @AfterAll
    public void stop()
    {
        server.close();
    }

    @Test
    public void testJvmAndProcessMetrics()
    {
        String metrics = scrape();

        for (String name : List.of("jvm_memory_used_bytes", "jvm_memory_max_bytes", "jvm_gc_memory_allocated_bytes_total", "jvm_gc_live_data_size_bytes",
                "jvm_threads_live_threads", "jvm_threads_states_threads", "jvm_classes_loaded_classes", "jvm_info", "process_cpu_usage", "system_cpu_count",
                "process_uptime_seconds", "process_start_time_seconds", "process_files_open_files", "process_files_max_files")) {
            assertThat(metrics).as("/metrics").containsPattern("(?m)^" + name + "[{ ]");
        }
    }

    @Test
    public void testRequestsAreCountedByRouteTemplateMethodAndStatus()
    {
        String account = TestingLatchkeyServer.uniqueName("metrics");
        String admin = server.createAccount(account, "alice");
        double verifiedBefore = requests("GET", "/api/v1/auth/verify", 200);
        double rejectedBefore = requests("GET", "/api/v1/auth/verify", 401);
        double listedBefore = requests("GET", "/api/v1/admin/accounts/{account_id}/users", 200);
        double headBefore = requests("HEAD", "/api/v1/admin/accounts/{account_id}/users", 200);
        double unmatchedBefore = requests("GET", HttpRequestMetrics.UNMATCHED, 404);

        server.assertKeyWorks(admin);
        server.assertKeyWorks(admin);
        server.assertKeyRejected(admin.substring(0, 20));
        server.client().get(usersPath(account), admin).assertOk();
        server.client().send("HEAD", usersPath(account), TestingHttpClient.keyHeader(admin), BodyPublishers.noBody());
        server.client().get("/api/v1/no-such-route/" + admin, admin).assertError(404, "NOT_FOUND");

        // Javalin's routes are counted once their response is sent, so a scrape may come just before
        assertThat(awaitRequests("GET", "/api/v1/auth/verify", 200, verifiedBefore + 2)).isEqualTo(verifiedBefore + 2);
        assertThat(awaitRequests("GET", "/api/v1/auth/verify", 401, rejectedBefore + 1)).isEqualTo(rejectedBefore + 1);
        assertThat(awaitRequests("GET", "/api/v1/admin/accounts/{account_id}/users", 200, listedBefore + 1)).isEqualTo(listedBefore + 1);
        assertThat(awaitRequests("HEAD", "/api/v1/admin/accounts/{account_id}/users", 200, headBefore + 1)).isEqualTo(headBefore + 1);
        assertThat(awaitRequests("GET", HttpRequestMetrics.UNMATCHED, 404, unmatchedBefore + 1)).isEqualTo(unmatchedBefore + 1);
        String metrics = scrape();
        assertThat(metrics).as("no raw path in the metrics").doesNotContain(account).doesNotContain("no-such-route").doesNotContain(admin.substring(0, 19));
        assertThat(metrics).contains("http_server_requests_seconds_sum{").contains("http_server_requests_seconds_max{");
    }

    @Test
    public void testAMethodOutsideTheUsualOnesAddsNoSeries()
    {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        HttpRequestMetrics metrics = new HttpRequestMetrics(registry);

        metrics.record("BREW", HttpRequestMetrics.UNMATCHED, 405, 1_000);
        metrics.record("COFFEE", HttpRequestMetrics.UNMATCHED, 405, 3_000);
        metrics.record("GET", "/health", 200, 2_000);

        assertThat(registry.get("http.server.requests").tag("method", "OTHER").timer().count()).isEqualTo(2);
        assertThat(registry.get("http.server.requests").tag("method", "GET").tag("route", "/health").tag("status", "200").timer().count()).isEqualTo(1);
        assertThat(registry.getMeters()).hasSize(2);
    }

    /**
     * The count of requests of one series once it has reached the expected count, or when a deadline has passed.
     */
    private double awaitRequests(String method, String route, int status, double expected)
    {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        double count = requests(method, route, status);
        while (count < expected && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
            count = requests(method, route, status);
        }
        return count;
    }

    /**
     * The count of requests of one series now; 0 when it has none yet.
     */
    private double requests(String method, String route, int status)
    {
        Matcher matcher = REQUESTS.matcher(scrape());
        while (matcher.find()) {
            String tags = matcher.group(1);
            if (tags.contains("method=\"" + method + "\"") && tags.contains("route=\"" + route + "\"") && tags.contains("status=\"" + status + "\"")) {
                return Double.parseDouble(matcher.group(2));
            }
        }
        return 0;
    }

    private String scrape()
    {
        TestingResponse response = server.client().get("/metrics", null);
        assertThat(response.status()).isEqualTo(200);
        return response.body();
    }
}

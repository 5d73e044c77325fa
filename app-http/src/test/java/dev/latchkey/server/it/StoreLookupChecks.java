package dev.latchkey.server.it;

import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.Base62;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static dev.latchkey.server.it.MultiInstanceSupport.answer;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * G4 of consistency.md against a running instance, whatever its store: junk keys never hammer the store. Run by
 * {@link AbstractMultiInstanceIT} for every store, which prints the figures through {@link Figures}. Run these while
 * nothing else writes (feed traffic would not move the lookup count, but other requests would).
 */
final class StoreLookupChecks
{
    /** The server's default negative-cache period (LATCHKEY_NEGATIVE_TTL). */
    private static final Duration NEGATIVE_CACHE_PERIOD = Duration.ofSeconds(2);
    private static final String LOOKUPS = "latchkey_store_key_lookups_total";
    private static final String MALFORMED = "latchkey_auth_total{outcome=\"malformed\"}";
    private static final String CACHE_MISSES = "latchkey_cache_misses_total";
    private static final String NEGATIVE_HITS = "latchkey_cache_negative_hits_total";
    private static final String REFUSED = "401 UNAUTHENTICATED";
    private static final SecureRandom RANDOM = new SecureRandom();

    private StoreLookupChecks() {}

    /**
     * 100 keys that fail their checksum: all refused, none looked up.
     */
    static void malformedKeysNeverReachTheStore(LatchkeyClient client, ServerProcess instance, Figures figures)
    {
        Map<String, Double> before = client.metrics(instance, LOOKUPS, MALFORMED);
        List<String> answers = IntStream.range(0, 100)
                .mapToObj(i -> answer(client.verify(instance, withBadChecksum(wellFormedUnknownKey()))))
                .toList();
        Map<String, Double> after = client.metrics(instance, LOOKUPS, MALFORMED);
        double lookups = after.get(LOOKUPS) - before.get(LOOKUPS);
        double malformed = after.get(MALFORMED) - before.get(MALFORMED);
        System.out.printf("G4 malformed: 100 keys with a bad checksum on %s -> %s; store key lookups +%.0f; malformed counter +%.0f%n",
                instance, tally(answers), lookups, malformed);
        figures.print("g4-malformed", "keys", answers.size(), "refused", answers.stream().filter(REFUSED::equals).count(), "store_lookups", (long) lookups, "malformed_counted", (long) malformed);
        assertThat(answers).containsOnly(REFUSED);
        assertThat(malformed).as("keys judged malformed").isEqualTo(100);
        assertThat(lookups).as("store key lookups for 100 malformed keys").isZero();
    }

    /**
     * Three herds of 400 concurrent requests, each with one unknown, well-formed key, on connections opened
     * beforehand so that the requests arrive together: at most one point lookup per negative-cache period begun.
     */
    static void aHerdWithOneUnknownKeyCostsOneStoreLookup(LatchkeyClient client, ServerProcess instance, Figures figures)
    {
        List<CompletableFuture<Integer>> warmUp = IntStream.range(0, 400).mapToObj(i -> client.healthAsync(instance)).toList();
        assertThat(warmUp.stream().map(CompletableFuture::join)).as("400 open connections").containsOnly(200);
        record Herd(int number, Duration took, double lookups, long allowed) {}
        List<Herd> herds = new ArrayList<>();
        for (int number = 1; number <= 3; number++) {
            String unknown = wellFormedUnknownKey();
            Map<String, Double> before = client.metrics(instance, LOOKUPS, CACHE_MISSES, NEGATIVE_HITS);
            long start = System.nanoTime();
            List<CompletableFuture<Integer>> requests = IntStream.range(0, 400).mapToObj(i -> client.verifyAsync(instance, unknown)).toList();
            List<Integer> statuses = requests.stream().map(CompletableFuture::join).toList();
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            Map<String, Double> moved = new LinkedHashMap<>();
            client.metrics(instance, LOOKUPS, CACHE_MISSES, NEGATIVE_HITS).forEach((series, value) -> moved.put(series, value - before.get(series)));
            // one lookup per negative-cache period begun: 1 when the herd fits in one period (it should, by far)
            long allowed = Math.max(1, (took.toNanos() + NEGATIVE_CACHE_PERIOD.toNanos() - 1) / NEGATIVE_CACHE_PERIOD.toNanos());
            herds.add(new Herd(number, took, moved.get(LOOKUPS), allowed));
            System.out.printf("G4 herd %d: 400 concurrent requests on %s with one unknown well-formed key -> %s in %d ms; store key lookups +%.0f, allowed %d (counters moved: %s)%n",
                    number, instance, tally(statuses), took.toMillis(), moved.get(LOOKUPS), allowed, moved);
            figures.print("g4-herd", "herd", number, "requests", statuses.size(), "took_ms", took.toMillis(), "store_lookups", moved.get(LOOKUPS).longValue(), "allowed", allowed);
            assertThat(statuses).containsOnly(401);
        }
        assertThat(herds).as("herds of 400 concurrent requests, each with one unknown key")
                .allSatisfy(herd -> assertThat(herd.lookups()).as("store key lookups of %s", herd).isLessThanOrEqualTo(herd.allowed()));
    }

    /**
     * A key of the right shape and checksum whose key id is in no store.
     */
    static String wellFormedUnknownKey()
    {
        return ApiKey.of(KeyId.of(randomBase62(KeyId.LENGTH)), randomBase62(32)).value();
    }

    /**
     * The key with its last check character changed, so that its checksum fails.
     */
    static String withBadChecksum(String key)
    {
        char last = key.charAt(key.length() - 1);
        char other = Base62.ALPHABET.charAt((Base62.ALPHABET.indexOf(last) + 1) % Base62.ALPHABET.length());
        return key.substring(0, key.length() - 1) + other;
    }

    static <T> Map<T, Long> tally(List<T> values)
    {
        return values.stream().collect(Collectors.groupingBy(Function.identity(), TreeMap::new, Collectors.counting()));
    }

    private static String randomBase62(int length)
    {
        StringBuilder text = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            text.append(Base62.ALPHABET.charAt(RANDOM.nextInt(Base62.ALPHABET.length())));
        }
        return text.toString();
    }
}

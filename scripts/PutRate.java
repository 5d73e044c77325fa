import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * PUTs small new objects into one S3Mock bucket, one at a time, and prints the rate of each block of 2,000: how fast
 * the S3-compatible test server itself answers as a bucket fills (docs/performance.md, "Moving between stores").
 *
 * <pre>
 * java -jar ~/.m2/repository/com/adobe/testing/s3mock/4.9.1/s3mock-4.9.1-exec.jar --com.adobe.testing.s3mock.http-port=19090 \
 *     --server.port=19443 --com.adobe.testing.s3mock.store.initial-buckets=rate &amp;
 * java scripts/PutRate.java http://127.0.0.1:19090 14000
 * </pre>
 */
public class PutRate
{
    public static void main(String[] args) throws Exception
    {
        String base = args[0];
        int total = Integer.parseInt(args[1]);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        long blockStart = System.nanoTime();
        for (int i = 1; i <= total; i++) {
            HttpRequest put = HttpRequest.newBuilder(URI.create(base + "/rate/objects/" + i + ".json"))
                    .timeout(Duration.ofSeconds(30))
                    .PUT(HttpRequest.BodyPublishers.ofString("{\"n\":" + i + "}"))
                    .header("Content-Type", "application/json")
                    .build();
            HttpResponse<Void> answer = http.send(put, HttpResponse.BodyHandlers.discarding());
            if (answer.statusCode() != 200) {
                throw new IllegalStateException("PUT " + i + " answered " + answer.statusCode());
            }
            if (i % 2000 == 0) {
                double seconds = (System.nanoTime() - blockStart) / 1e9;
                System.out.printf("objects %6d: %.0f PUTs/s over the last 2,000%n", i, 2000 / seconds);
                blockStart = System.nanoTime();
            }
        }
    }
}

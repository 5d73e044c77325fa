package dev.latchkey.server.http;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

public class TestHttpApiSelectors
{
    @Test
    public void testOnePerCore()
    {
        assertThat(HttpApi.selectors(1)).isEqualTo(1);
        assertThat(HttpApi.selectors(2)).isEqualTo(2);
        assertThat(HttpApi.selectors(8)).isEqualTo(8);
    }

    @Test
    public void testBoundedByThePool()
    {
        // Jetty's own bound: one selector per 16 threads of the 250-thread pool, the rest left for blocking work
        assertThat(HttpApi.selectors(15)).isEqualTo(15);
        assertThat(HttpApi.selectors(16)).isEqualTo(15);
        assertThat(HttpApi.selectors(128)).isEqualTo(15);
    }

    @Test
    public void testAtLeastOne()
    {
        assertThat(HttpApi.selectors(0)).isEqualTo(1);
    }
}

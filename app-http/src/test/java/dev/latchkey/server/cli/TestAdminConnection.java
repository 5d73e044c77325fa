package dev.latchkey.server.cli;

import org.junit.jupiter.api.Test;

import java.net.URI;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class TestAdminConnection
{
    @Test
    public void testApiPathsResolveUnderTheUrlAndItsPathPrefix()
    {
        for (String url : new String[] {"http://127.0.0.1:1933", "http://127.0.0.1:1933/"}) {
            assertThat(AdminClient.resolve(connection(url).baseUri(), "/api/v1/admin/accounts")).isEqualTo(URI.create("http://127.0.0.1:1933/api/v1/admin/accounts"));
        }
        for (String url : new String[] {"https://auth.example.com/latchkey", "https://auth.example.com/latchkey/"}) {
            assertThat(AdminClient.resolve(connection(url).baseUri(), "/api/v1/admin/accounts?x=1"))
                    .isEqualTo(URI.create("https://auth.example.com/latchkey/api/v1/admin/accounts?x=1"));
        }
    }

    @Test
    public void testAUrlThatIsNotAServersIsAUsageError()
    {
        for (String url : new String[] {"ftp://host/", "127.0.0.1:1933", "http:///path", "http://host/?a=b", "http://host/#top", "http://ho st/"}) {
            assertThatThrownBy(() -> connection(url).baseUri()).as(url).isInstanceOf(AdminConnection.UsageException.class).hasMessageContaining("--url");
        }
    }

    private static AdminConnection connection(String url)
    {
        AdminConnection connection = new AdminConnection();
        connection.url = url;
        return connection;
    }
}

package dev.latchkey.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

public class TestTable
{
    @Test
    public void testColumnsAreAsWideAsTheirWidestCellAndNullsPrintAsDashes()
            throws Exception
    {
        JsonNode rows = JsonMapper.builder().build().readTree("""
                [{"key_id": "abc", "name": "a longer name", "scopes": ["docs:read", "docs:list"], "expires_at": null},
                 {"key_id": "a-much-longer-id", "scopes": ["*"]}]""");
        StringWriter text = new StringWriter();
        try (PrintWriter out = new PrintWriter(text)) {
            new Table("KEY ID", "key_id", "NAME", "name", "SCOPES", "scopes", "EXPIRES", "expires_at").print(rows, out);
        }

        assertThat(text.toString().lines()).containsExactly(
                "KEY ID            NAME           SCOPES               EXPIRES",
                "abc               a longer name  docs:read docs:list  -",
                "a-much-longer-id  -              *                    -");
    }

    @Test
    public void testAnEmptyListPrintsTheHeadersOnly()
    {
        StringWriter text = new StringWriter();
        try (PrintWriter out = new PrintWriter(text)) {
            new Table("ACCOUNT", "account_id", "USERS", "user_count").print(JsonMapper.builder().build().createArrayNode(), out);
        }
        assertThat(text.toString().lines()).containsExactly("ACCOUNT  USERS");
    }
}

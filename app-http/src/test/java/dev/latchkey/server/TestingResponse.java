package dev.latchkey.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.net.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * One HTTP response of the server, with assertions on the envelope of http-api.md:
 * {@code {"status", "result", "error", "time"}}, where {@code error} is {@code {"code", "message"}} plus
 * {@code details} only when there is something in it.
 */
public record TestingResponse(String request, int status, HttpHeaders headers, String body)
{
    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    public TestingResponse
    {
        requireNonNull(request, "request is null");
        requireNonNull(headers, "headers is null");
        requireNonNull(body, "body is null");
    }

    /**
     * The body parsed as JSON; fails the test when it is not JSON.
     */
    public JsonNode json()
    {
        try {
            return MAPPER.readTree(body);
        }
        catch (JsonProcessingException e) {
            return fail("%s: the body is not JSON: %s", this, body);
        }
    }

    public Optional<String> header(String name)
    {
        return headers.firstValue(name);
    }

    /**
     * Asserts a 200 with a success envelope and returns its {@code result}.
     */
    public JsonNode assertOk()
    {
        assertThat(status).as("status of %s", this).isEqualTo(200);
        JsonNode json = assertEnvelope();
        assertThat(json.get("status").textValue()).as("envelope status of %s", this).isEqualTo("ok");
        assertThat(json.get("error").isNull()).as("error of %s", this).isTrue();
        return json.get("result");
    }

    /**
     * Asserts an error envelope with this status and code and no {@code details}, and returns its {@code error}.
     */
    public JsonNode assertError(int expectedStatus, String code)
    {
        JsonNode error = assertErrorEnvelope(expectedStatus, code);
        assertThat(error.has("details")).as("details of %s (present only when there is something to say)", this).isFalse();
        return error;
    }

    /**
     * Asserts an error envelope with this status and code that has {@code details}, and returns them.
     */
    public JsonNode assertErrorDetails(int expectedStatus, String code)
    {
        JsonNode details = assertErrorEnvelope(expectedStatus, code).get("details");
        assertThat(details).as("details of %s", this).isNotNull();
        return details;
    }

    /**
     * Asserts a 400 INVALID_ARGUMENT whose {@code details} are exactly {@code {"field": <field>}}.
     */
    public JsonNode assertInvalidField(String field)
    {
        JsonNode error = assertErrorEnvelope(400, "INVALID_ARGUMENT");
        JsonNode details = error.get("details");
        assertThat(details).as("details of %s", this).isNotNull();
        assertThat(fieldNames(details)).as("details of %s", this).containsExactly("field");
        assertThat(details.get("field").textValue()).as("details.field of %s", this).isEqualTo(field);
        return error;
    }

    private JsonNode assertErrorEnvelope(int expectedStatus, String code)
    {
        assertThat(status).as("status of %s", this).isEqualTo(expectedStatus);
        JsonNode json = assertEnvelope();
        assertThat(json.get("status").textValue()).as("envelope status of %s", this).isEqualTo("error");
        assertThat(json.get("result").isNull()).as("result of %s", this).isTrue();
        JsonNode error = json.get("error");
        assertThat(error.isObject()).as("error of %s", this).isTrue();
        assertThat(fieldNames(error)).as("error fields of %s", this).contains("code", "message").isSubsetOf("code", "message", "details");
        assertThat(error.get("code").textValue()).as("error code of %s", this).isEqualTo(code);
        assertThat(error.get("message").textValue()).as("error message of %s", this).isNotBlank();
        if (error.has("details")) {
            assertThat(error.get("details").isObject() && !error.get("details").isEmpty()).as("details of %s", this).isTrue();
        }
        return error;
    }

    private JsonNode assertEnvelope()
    {
        assertThat(header("Content-Type")).as("content type of %s", this).hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
        JsonNode json = json();
        assertThat(json.isObject()).as("envelope of %s", this).isTrue();
        assertThat(fieldNames(json)).as("envelope fields of %s", this).containsExactlyInAnyOrder("status", "result", "error", "time");
        JsonNode time = json.get("time");
        assertThat(time.isFloatingPointNumber()).as("time of %s is a float", this).isTrue();
        assertThat(time.doubleValue()).as("time of %s", this).isBetween(0.0, 60.0);
        return json;
    }

    static List<String> fieldNames(JsonNode node)
    {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Override
    public String toString()
    {
        return request + " -> " + status + " " + (body.length() > 500 ? body.substring(0, 500) + "..." : body);
    }
}

package dev.latchkey.server;

import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.OpenApi31;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.StringNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/openapi.yaml as a checker of real answers. A request (method and target) is matched to the operation the
 * server routes it to, the way Javalin does (a path parameter is one segment, a trailing slash is ignored); the
 * answer's status must be one that operation documents, and its headers and body must validate against that
 * response, with networknt's JSON Schema validator in the OpenAPI 3.1 dialect. A request that reaches no operation
 * is checked against the document's {@code x-latchkey-unrouted} responses: {@code unknown-path} when no path
 * matches, {@code wrong-method} when the path exists but not with that method. Nothing is ever skipped: a status the
 * document does not list for the request is a problem. HEAD answers must have no body.
 */
public final class TestingOpenApi
{
    /** docs/openapi.yaml of the repository that the build names ({@code latchkey.repository}, as for TestDocumentation). */
    public static final Path DOCUMENT = Path.of(System.getProperty("latchkey.repository", "..")).resolve("docs/openapi.yaml").toAbsolutePath().normalize();

    private static final String DOCUMENT_IRI = "https://latchkey.invalid/docs/openapi.json";
    private static final Set<String> METHODS = Set.of("get", "head", "post", "put", "delete", "patch", "options", "trace");
    private static final String UNROUTED = "x-latchkey-unrouted";
    private static final String JSON = "application/json";
    private static final JsonMapper JSON_MAPPER = JsonMapper.builder().build();

    private final JsonNode document;
    private final SchemaRegistry registry;
    private final List<PathTemplate> paths;
    private final Map<String, Schema> schemas = new ConcurrentHashMap<>();

    private TestingOpenApi(JsonNode document)
    {
        this.document = requireNonNull(document, "document is null");
        String json = JSON_MAPPER.writeValueAsString(document);
        this.registry = SchemaRegistry.withDefaultDialect(OpenApi31.getInstance(), builder -> builder.schemas(Map.of(DOCUMENT_IRI, json)));
        List<PathTemplate> templates = new ArrayList<>();
        for (Map.Entry<String, JsonNode> path : document.path("paths").properties()) {
            templates.add(new PathTemplate(path.getKey(), pathPattern(path.getKey()), path.getValue()));
        }
        this.paths = List.copyOf(templates);
        // every schema compiles, so a broken $ref fails at once rather than on the first answer that needs it
        for (String name : document.path("components").path("schemas").propertyNames()) {
            schema("/components/schemas/" + escape(name));
        }
    }

    /**
     * docs/openapi.yaml, read once per JVM.
     */
    public static TestingOpenApi document()
    {
        return Holder.DOCUMENT_ON_DISK;
    }

    public static TestingOpenApi load(Path file)
    {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8));
        }
        catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * An OpenAPI document given as YAML (or JSON) text.
     */
    public static TestingOpenApi parse(String yaml)
    {
        return new TestingOpenApi(YAMLMapper.builder().build().readTree(yaml));
    }

    public JsonNode tree()
    {
        return document;
    }

    /**
     * Every operation of the document, as {@code METHOD /path/{param}}, sorted (the form of
     * {@link LatchkeyServer#routes()}).
     */
    public List<String> operations()
    {
        List<String> operations = new ArrayList<>();
        for (PathTemplate path : paths) {
            for (String method : path.item().propertyNames()) {
                if (METHODS.contains(method)) {
                    operations.add(method.toUpperCase(Locale.ROOT) + " " + path.template());
                }
            }
        }
        return operations.stream().sorted().toList();
    }

    /**
     * Fails the test when the answer does not match the document.
     */
    public void assertValid(TestingResponse response)
    {
        int space = response.request().indexOf(' ');
        String method = response.request().substring(0, space);
        String target = response.request().substring(space + 1);
        assertThat(problems(method, target, response.status(), response.headers(), response.body()))
                .as("%s, against %s", response, DOCUMENT.getFileName())
                .isEmpty();
    }

    /**
     * What is wrong with this answer to this request, according to the document; empty when nothing is.
     *
     * @param target the request target: path and query, percent-encoded as sent
     */
    public List<String> problems(String method, String target, int status, HttpHeaders headers, String body)
    {
        List<String> problems = new ArrayList<>();
        String responsesPointer = responsesPointer(method.toLowerCase(Locale.ROOT), path(target));
        JsonNode responses = document.at(responsesPointer);
        String statusKey = String.valueOf(status);
        if (!responses.has(statusKey)) {
            problems.add("status " + status + " is not documented at " + responsesPointer + " (documented: " + responses.propertyNames() + ")");
            return problems;
        }
        String responsePointer = resolve(responsesPointer + "/" + statusKey);
        JsonNode response = document.at(responsePointer);
        checkHeaders(responsePointer, response, headers, problems);
        if (method.equalsIgnoreCase("HEAD")) {
            if (!body.isEmpty()) {
                problems.add("an answer to HEAD has a body");
            }
            return problems;
        }
        JsonNode content = response.path("content");
        if (content.isEmpty()) {
            if (!body.isEmpty()) {
                problems.add("the response " + responsePointer + " documents no body, but there is one");
            }
            return problems;
        }
        String mediaType = headers.firstValue("Content-Type").map(type -> type.split(";")[0].trim().toLowerCase(Locale.ROOT)).orElse("");
        if (!content.has(mediaType)) {
            problems.add("content type '" + mediaType + "' is not documented at " + responsePointer + " (documented: " + content.propertyNames() + ")");
            return problems;
        }
        JsonNode instance;
        if (mediaType.equals(JSON)) {
            try {
                instance = JSON_MAPPER.readTree(body);
            }
            catch (JacksonException e) {
                problems.add("the body is not JSON");
                return problems;
            }
        }
        else {
            instance = StringNode.valueOf(body);
        }
        String schemaPointer = responsePointer + "/content/" + escape(mediaType) + "/schema";
        for (Error error : schema(schemaPointer).validate(instance)) {
            problems.add("body: " + error);
        }
        return problems;
    }

    private void checkHeaders(String responsePointer, JsonNode response, HttpHeaders headers, List<String> problems)
    {
        for (String name : response.path("headers").propertyNames()) {
            String headerPointer = resolve(responsePointer + "/headers/" + escape(name));
            JsonNode header = document.at(headerPointer);
            Optional<String> value = headers.firstValue(name);
            if (value.isEmpty()) {
                if (header.path("required").asBoolean(false)) {
                    problems.add("the required header " + name + " is missing");
                }
                continue;
            }
            for (Error error : schema(headerPointer + "/schema").validate(StringNode.valueOf(value.get()))) {
                problems.add("header " + name + ": " + error);
            }
        }
    }

    /**
     * Where the documented responses to this request are: its operation's, or the document's answers to requests
     * that reach no operation.
     */
    private String responsesPointer(String method, String path)
    {
        for (PathTemplate template : paths) {
            if (template.pattern().matcher(path).matches()) {
                if (METHODS.contains(method) && template.item().has(method)) {
                    return "/paths/" + escape(template.template()) + "/" + method + "/responses";
                }
                return "/" + UNROUTED + "/wrong-method";
            }
        }
        return "/" + UNROUTED + "/unknown-path";
    }

    /**
     * The pointer of the object at this pointer, following a local {@code $ref} (a Reference Object).
     */
    private String resolve(String pointer)
    {
        JsonNode node = document.at(pointer);
        JsonNode reference = node.path("$ref");
        if (!reference.isString()) {
            return pointer;
        }
        String target = reference.stringValue();
        assertThat(target).as("$ref at %s is local", pointer).startsWith("#/");
        return resolve(target.substring(1));
    }

    private Schema schema(String pointer)
    {
        return schemas.computeIfAbsent(pointer, key -> {
            assertThat(document.at(key).isMissingNode()).as("%s exists in the document", key).isFalse();
            return registry.getSchema(SchemaLocation.of(DOCUMENT_IRI + "#" + iriFragment(key)));
        });
    }

    /**
     * The request path as Javalin routes it: without the query, and without one trailing slash.
     */
    private static String path(String target)
    {
        String path = target.split("[?#]", 2)[0];
        if (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        return path;
    }

    private static Pattern pathPattern(String template)
    {
        StringBuilder regex = new StringBuilder();
        for (String segment : template.substring(1).split("/", -1)) {
            regex.append('/');
            if (segment.startsWith("{") && segment.endsWith("}")) {
                regex.append("[^/]+");
            }
            else {
                regex.append(Pattern.quote(segment));
            }
        }
        return Pattern.compile(regex.toString());
    }

    /**
     * One JSON Pointer reference token.
     */
    private static String escape(String token)
    {
        return token.replace("~", "~0").replace("/", "~1");
    }

    /**
     * A JSON Pointer written as an IRI fragment: what is not allowed there as is gets percent-encoded.
     */
    private static String iriFragment(String pointer)
    {
        StringBuilder fragment = new StringBuilder();
        for (byte b : pointer.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~/".indexOf(c) >= 0) {
                fragment.append(c);
            }
            else {
                fragment.append('%').append(String.format(Locale.ROOT, "%02X", b & 0xff));
            }
        }
        return fragment.toString();
    }

    /**
     * A path of the document with the pattern of the request paths that Javalin routes to it.
     */
    private record PathTemplate(String template, Pattern pattern, JsonNode item) {}

    private static final class Holder
    {
        private static final TestingOpenApi DOCUMENT_ON_DISK = load(DOCUMENT);
    }
}

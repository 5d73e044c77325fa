package dev.latchkey.server.http;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.UrlEncoded;
import org.jspecify.annotations.Nullable;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;

import static java.util.Objects.requireNonNull;

/**
 * {@code GET} and {@code HEAD /api/v1/auth/verify} on Jetty's own handler API, ahead of Javalin: the endpoint a proxy
 * calls once per request of the application it guards, so its cost bounds the proxy's throughput. Measured on the
 * machine of docs/performance.md, this handler serves about twice the requests per second that Javalin's route did.
 * The answer is exactly the route's (same headers, same envelope, same codes: {@link VerifyAnswers}); every other
 * request, and any variant of the path this handler does not match exactly (a trailing slash, percent-encoding),
 * goes on to Javalin, whose route answers the same way.
 */
final class VerifyHandler
        extends Handler.Wrapper
{
    static final String PATH = "/api/v1/auth/verify";
    static final String ROLE_HEADER = "X-Latchkey-Role";
    static final String ACCOUNT_HEADER = "X-Latchkey-Account";
    static final String USER_HEADER = "X-Latchkey-User";
    static final String KEY_ID_HEADER = "X-Latchkey-Key-Id";
    static final String SCOPES_HEADER = "X-Latchkey-Scopes";
    static final String SCOPE_PARAMETER = "scope";
    /** Whole seconds since the change feed was last read: how old the answer may be. */
    static final String AGE_HEADER = "X-Latchkey-Age";
    static final String API_KEY_HEADER = "X-API-Key";

    private final VerifyAnswers answers;

    VerifyHandler(VerifyAnswers answers)
    {
        this.answers = requireNonNull(answers, "answers is null");
    }

    /**
     * Non-blocking: Jetty then runs the handler chain on its network threads, so requests for Javalin are handed to
     * the thread pool here (what Jetty would do for a blocking handler), and a verify answer that needs a store
     * lookup is written when the lookup completes, from the lookup's thread. A verify answered from memory costs no
     * thread hand-off at all.
     */
    @Override
    public InvocationType getInvocationType()
    {
        return InvocationType.NON_BLOCKING;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback)
    {
        String requestId = RequestIds.from(request.getHeaders().get(RequestIds.HEADER));
        response.getHeaders().put(RequestIds.HEADER, requestId);
        String method = request.getMethod();
        boolean head = HttpMethod.HEAD.is(method);
        if (!(head || HttpMethod.GET.is(method)) || !PATH.equals(Request.getPathInContext(request))) {
            // only what Javalin serves needs the id later (the audit trail, the access log)
            request.setAttribute(RequestIds.ATTRIBUTE, requestId);
            try {
                getServer().getThreadPool().execute(() -> handleBlocking(request, response, callback));
            }
            catch (RejectedExecutionException e) {
                // the pool is stopping or full: Jetty answers with its error page (the envelope, see EnvelopeErrorHandler)
                callback.failed(e);
            }
            return true;
        }
        long start = System.nanoTime();
        HttpFields headers = request.getHeaders();
        RequestedScopes requested = RequestedScopes.ofQuery(request.getHttpURI().getQuery());
        answers.answer(headers.get(API_KEY_HEADER), headers.get(HttpHeader.AUTHORIZATION), headers.get(ReadYourWrites.HEADER), requested, start,
                new VerifyAnswers.Sink()
                {
                    @Override
                    public void send(VerifyAnswers.Answer answer)
                    {
                        write(response, callback, head, start, answer, requestId);
                    }

                    @Override
                    public void failed(Throwable failure)
                    {
                        callback.failed(failure);
                    }
                });
        return true;
    }

    /**
     * Javalin's part, on a pool thread: it may block (request bodies, store writes).
     */
    private void handleBlocking(Request request, Response response, Callback callback)
    {
        try {
            if (!super.handle(request, response, callback)) {
                Response.writeError(request, response, callback, HttpStatus.NOT_FOUND_404);
            }
        }
        catch (Throwable failure) {
            callback.failed(failure);
        }
    }

    private void write(Response response, Callback callback, boolean head, long start, VerifyAnswers.Answer answer, String requestId)
    {
        HttpFields.Mutable headers = response.getHeaders();
        answer.identityHeaders(headers::put);
        response.setStatus(answer.status());
        headers.put(AGE_HEADER, answer.age());
        headers.put(HttpHeader.CONTENT_TYPE, "application/json");
        headers.put(HttpHeader.CONTENT_LENGTH, answer.body().length);
        response.write(true, head ? BufferUtil.EMPTY_BUFFER : ByteBuffer.wrap(answer.body()), callback);
        answers.sent(head ? "HEAD" : "GET", PATH, answer.status(), start, requestId);
    }

    /**
     * The scopes a verify request asks the key to hold ({@code ?scope=a&scope=b}), checked once the key is known (a
     * 401 wins over a 400 or a 403).
     *
     * @param invalid why the query could not be read, if it could not
     */
    record RequestedScopes(List<String> scopes, Optional<LatchkeyException> invalid)
    {
        private static final RequestedScopes NONE = new RequestedScopes(List.of(), Optional.empty());

        /**
         * The scopes of a raw (percent-encoded) query string, decoded as Jetty decodes a request's query.
         */
        static RequestedScopes ofQuery(@Nullable String query)
        {
            if (query == null) {
                return NONE;
            }
            try {
                Fields fields = new Fields(true);
                UrlEncoded.decodeUtf8To(query, fields);
                return of(fields.getValues(SCOPE_PARAMETER));
            }
            catch (RuntimeException e) {
                return new RequestedScopes(List.of(), Optional.of(LatchkeyException.invalidField(SCOPE_PARAMETER, "the query string is not correctly percent-encoded")));
            }
        }

        static RequestedScopes of(@Nullable List<String> values)
        {
            return values == null || values.isEmpty() ? NONE : new RequestedScopes(List.copyOf(values), Optional.empty());
        }
    }

    /**
     * Refuses a key that does not hold every requested scope.
     *
     * @throws LatchkeyException INVALID_ARGUMENT when a requested scope is not a scope at all; PERMISSION_DENIED when
     *         the key does not hold one of them
     */
    static void requireScopes(Identity identity, RequestedScopes requested)
    {
        if (requested == RequestedScopes.NONE) {
            return;
        }
        requested.invalid().ifPresent(e -> {
            throw e;
        });
        for (String scope : requested.scopes()) {
            Scopes.checkScope(scope, SCOPE_PARAMETER);
        }
        if (!identity.scopes().grantsAll(requested.scopes())) {
            throw new LatchkeyException(ErrorCode.PERMISSION_DENIED, "the API key does not hold every requested scope");
        }
    }

    /**
     * The headers a proxy copies into the request it passes on: the role, the key's scopes, and for account keys the
     * account, the user and the key id (for Javalin's route; the fast paths take the same ones from {@link VerifyAnswers.Answer#identityHeaders}).
     */
    static Map<String, String> identityHeaders(Identity identity)
    {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(ROLE_HEADER, identity.role().wireName());
        identity.accountId().ifPresent(account -> headers.put(ACCOUNT_HEADER, account.value()));
        identity.userId().ifPresent(user -> headers.put(USER_HEADER, user.value()));
        identity.keyId().ifPresent(keyId -> headers.put(KEY_ID_HEADER, keyId.value()));
        headers.put(SCOPES_HEADER, identity.scopes().joined());
        return headers;
    }

    static Map<String, Object> result(Identity identity)
    {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("role", identity.role().wireName());
        result.put("account_id", identity.accountId().map(AccountId::value).orElse(null));
        result.put("user_id", identity.userId().map(UserId::value).orElse(null));
        result.put("key_id", identity.keyId().map(KeyId::value).orElse(null));
        result.put("scopes", identity.scopes().values());
        result.put("expires_at", identity.expiresAt().map(Instant::toString).orElse(null));
        return result;
    }
}

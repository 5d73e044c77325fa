package dev.latchkey.adapters.s3;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CommonPrefix;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The handful of S3 requests the store makes, each mapped to the store's typed failures: a failed condition is a
 * {@code false} answer, an absent object an empty one, and everything else (network, timeout, throttling after the
 * SDK's retries, denied access, a missing bucket) {@code UNAVAILABLE}. No SDK exception leaves this class, and
 * nothing read is kept: every call asks S3.
 */
final class S3Objects
        implements Reads
{
    private static final int NOT_MODIFIED = 304;
    private static final int NOT_FOUND = 404;
    private static final int CONFLICT = 409;
    private static final int PRECONDITION_FAILED = 412;
    private static final String JSON = "application/json";

    private final S3Client client;
    private final String bucket;
    private final String prefix;

    S3Objects(S3Client client, String bucket, String prefix)
    {
        this.client = requireNonNull(client, "client is null");
        this.bucket = requireNonNull(bucket, "bucket is null");
        this.prefix = requireNonNull(prefix, "prefix is null");
    }

    /**
     * An object's bytes and the entity tag they had.
     */
    record Versioned(byte[] bytes, String etag) {}

    @Override
    public Optional<Versioned> get(String key)
    {
        try {
            ResponseBytes<GetObjectResponse> response = client.getObjectAsBytes(GetObjectRequest.builder().bucket(bucket).key(prefix + key).build());
            return Optional.of(new Versioned(response.asByteArray(), response.response().eTag()));
        }
        catch (S3Exception e) {
            if (isAbsent(e)) {
                return Optional.empty();
            }
            throw unavailable("read", e);
        }
        catch (SdkException e) {
            throw unavailable("read", e);
        }
    }

    /**
     * Reads an object unless it still has the entity tag {@code etag}.
     *
     * @return empty when the object still has that tag (S3 answered 304 Not Modified); otherwise the object, or
     *         {@link Versioned} with null bytes and etag when it is absent
     */
    @Override
    public Optional<Versioned> getIfChanged(String key, String etag)
    {
        try {
            ResponseBytes<GetObjectResponse> response = client.getObjectAsBytes(GetObjectRequest.builder().bucket(bucket).key(prefix + key).ifNoneMatch(etag).build());
            return Optional.of(new Versioned(response.asByteArray(), response.response().eTag()));
        }
        catch (S3Exception e) {
            if (e.statusCode() == NOT_MODIFIED) {
                return Optional.empty();
            }
            if (isAbsent(e)) {
                return Optional.of(new Versioned(null, null));
            }
            throw unavailable("read", e);
        }
        catch (SdkException e) {
            throw unavailable("read", e);
        }
    }

    /**
     * Creates an object that must not exist yet ({@code If-None-Match: *}).
     *
     * @return the new object's entity tag; empty when it exists (or a concurrent conditional write on it won)
     */
    Optional<String> putIfAbsent(String key, byte[] bytes)
    {
        return conditionalPut(PutObjectRequest.builder().bucket(bucket).key(prefix + key).contentType(JSON).ifNoneMatch("*").build(), bytes);
    }

    /**
     * Replaces an object only if it still has the entity tag {@code etag} ({@code If-Match}).
     *
     * @return the new object's entity tag; empty when it changed or vanished since (or a concurrent conditional write
     *         on it won)
     */
    Optional<String> putIfMatch(String key, byte[] bytes, String etag)
    {
        requireNonNull(etag, "etag is null");
        return conditionalPut(PutObjectRequest.builder().bucket(bucket).key(prefix + key).contentType(JSON).ifMatch(etag).build(), bytes);
    }

    /**
     * Creates or replaces an object, as {@link #putIfAbsent} when {@code etag} is null and {@link #putIfMatch}
     * otherwise.
     */
    Optional<String> putIfUnchanged(String key, byte[] bytes, String etag)
    {
        return etag == null ? putIfAbsent(key, bytes) : putIfMatch(key, bytes, etag);
    }

    /**
     * Writes an object whatever it holds: only for objects that need no condition, because every writer writes the
     * same bytes, or because one writer alone writes them (an instance's registry record).
     */
    void put(String key, byte[] bytes)
    {
        try {
            client.putObject(PutObjectRequest.builder().bucket(bucket).key(prefix + key).contentType(JSON).build(), RequestBody.fromBytes(bytes));
        }
        catch (SdkException e) {
            throw unavailable("write", e);
        }
    }

    void delete(String key)
    {
        try {
            client.deleteObject(builder -> builder.bucket(bucket).key(prefix + key));
        }
        catch (S3Exception e) {
            if (!isAbsent(e)) {
                throw unavailable("delete", e);
            }
        }
        catch (SdkException e) {
            throw unavailable("delete", e);
        }
    }

    /**
     * The names (relative to {@code directory}) of the objects directly in a "directory" ({@code directory} ends
     * with {@code /}), and of its subdirectories with their trailing {@code /}, in S3's (binary) order.
     */
    @Override
    public List<String> list(String directory)
    {
        String fullPrefix = prefix + directory;
        List<String> names = new ArrayList<>();
        String token = null;
        try {
            do {
                ListObjectsV2Request.Builder request = ListObjectsV2Request.builder().bucket(bucket).prefix(fullPrefix).delimiter("/");
                if (token != null) {
                    request.continuationToken(token);
                }
                ListObjectsV2Response response = client.listObjectsV2(request.build());
                for (S3Object object : response.contents()) {
                    names.add(object.key().substring(fullPrefix.length()));
                }
                for (CommonPrefix common : response.commonPrefixes()) {
                    names.add(common.prefix().substring(fullPrefix.length()));
                }
                token = Boolean.TRUE.equals(response.isTruncated()) ? response.nextContinuationToken() : null;
            }
            while (token != null);
        }
        catch (SdkException e) {
            throw unavailable("list", e);
        }
        return names;
    }

    /**
     * The names (relative to {@code directory}) of at most the first {@code maxKeys} objects directly in a
     * "directory", in S3's (binary) order: one LIST request.
     */
    List<String> listFirst(String directory, int maxKeys)
    {
        return listPage(directory, maxKeys).names();
    }

    /**
     * One LIST request's page of names, and whether S3 said there are more (a page may hold fewer than asked for).
     */
    record Page(List<String> names, boolean truncated)
    {
        Page
        {
            names = List.copyOf(names);
        }
    }

    /**
     * The first page of names (relative to {@code directory}) of the objects directly in a "directory", at most
     * {@code maxKeys} of them, in S3's (binary) order: one LIST request.
     */
    Page listPage(String directory, int maxKeys)
    {
        String fullPrefix = prefix + directory;
        try {
            ListObjectsV2Response response = client.listObjectsV2(ListObjectsV2Request.builder().bucket(bucket).prefix(fullPrefix).delimiter("/").maxKeys(maxKeys).build());
            List<String> names = new ArrayList<>();
            for (S3Object object : response.contents()) {
                names.add(object.key().substring(fullPrefix.length()));
            }
            return new Page(names, Boolean.TRUE.equals(response.isTruncated()));
        }
        catch (SdkException e) {
            throw unavailable("list", e);
        }
    }

    private Optional<String> conditionalPut(PutObjectRequest request, byte[] bytes)
    {
        try {
            return Optional.of(client.putObject(request, RequestBody.fromBytes(bytes)).eTag());
        }
        catch (S3Exception e) {
            // 412: the condition failed. 409: AWS's answer to a conditional write racing another on the same key
            // ("ConditionalRequestConflict"). 404: If-Match on an object deleted since. Either way someone else's
            // write won and the caller reads again.
            if (e.statusCode() == PRECONDITION_FAILED || e.statusCode() == CONFLICT || isAbsent(e)) {
                return Optional.empty();
            }
            throw unavailable("write", e);
        }
        catch (SdkException e) {
            throw unavailable("write", e);
        }
    }

    /**
     * A 404 about the object (NoSuchKey), not about the bucket (NoSuchBucket: a configuration error, which must not
     * read as "no such key" and turn into 401s). A 404 without an error code (the answer to a HEAD) counts as the
     * object's.
     */
    private static boolean isAbsent(S3Exception e)
    {
        if (e.statusCode() != NOT_FOUND) {
            return false;
        }
        String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
        return code == null || code.equals("NoSuchKey");
    }

    /**
     * Names what failed without the object key (it can hold a key id) or the SDK's message (it can hold the
     * request's URL).
     */
    private static LatchkeyException unavailable(String operation, SdkException e)
    {
        String detail = e instanceof S3Exception s3 ? " (S3 answered " + s3.statusCode() + errorCode(s3) + ")" : "";
        return new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store is unavailable: " + operation + " failed" + detail, e);
    }

    private static String errorCode(S3Exception e)
    {
        return e.awsErrorDetails() == null || e.awsErrorDetails().errorCode() == null ? "" : " " + e.awsErrorDetails().errorCode();
    }
}

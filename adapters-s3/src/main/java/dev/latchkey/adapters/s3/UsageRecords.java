package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Usage;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;

import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

import static java.util.Objects.requireNonNull;

/**
 * When keys were last used: one object per instance, {@code usage/<instanceId>.json}, which only that instance
 * writes, holding for each key it served the latest use it flushed. Never part of the feed (a use changes no lookup).
 * <p>
 * A flush is one conditional PUT of the instance's object, merged (the later instant per key) with what this handle
 * last wrote there: the handle keeps that content and its entity tag, which it sends as {@code If-Match}, so S3
 * decides whether anything else wrote the object since. Its first flush reads the object first (a GET, then the
 * PUT), and so does a flush whose condition fails (another handle with the same instance id, or a retried PUT whose
 * first attempt landed). A read of last-used times lists {@code usage/} and reads every instance's object, side by
 * side, taking the latest instant per key.
 */
final class UsageRecords
{
    private static final int WRITE_ATTEMPTS = 5;

    private final S3Objects objects;
    private final ParallelReads parallel;
    /** What this handle last wrote to each instance's object, and its entity tag (guarded by this). */
    private final Map<String, Written> written = new HashMap<>();

    private record Written(Map<String, Instant> lastUsed, String etag) {}

    UsageRecords(S3Objects objects, ParallelReads parallel)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.parallel = requireNonNull(parallel, "parallel is null");
    }

    synchronized void record(String instanceId, Map<KeyId, Instant> used)
    {
        if (used.isEmpty()) {
            return;
        }
        String objectKey = ObjectLayout.usage(instanceId);
        Written known = written.get(instanceId);
        for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
            if (known == null) {
                known = read(objectKey);
            }
            Map<String, Instant> merged = new TreeMap<>(known.lastUsed());
            used.forEach((keyId, at) -> merged.merge(keyId.value(), requireNonNull(at, "a last-used instant is null"), UsageRecords::later));
            Optional<String> etag = objects.putIfUnchanged(objectKey, Documents.write(new Usage(instanceId, merged)), known.etag());
            if (etag.isPresent()) {
                written.put(instanceId, new Written(merged, etag.get()));
                return;
            }
            // written meanwhile by someone else (or by this PUT's first attempt, whose answer was lost): read it again
            known = null;
        }
        throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store's usage record of this instance kept changing while it was written");
    }

    Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds)
    {
        if (keyIds.isEmpty()) {
            return Map.of();
        }
        Set<String> wanted = new HashSet<>();
        keyIds.forEach(keyId -> wanted.add(keyId.value()));
        List<String> instances = objects.list(ObjectLayout.USAGE).stream().filter(name -> name.endsWith(".json")).toList();
        Map<KeyId, Instant> found = new HashMap<>();
        for (Optional<Versioned> object : parallel.map(instances, name -> objects.get(ObjectLayout.USAGE + name))) {
            if (object.isEmpty()) {
                continue;
            }
            Documents.read(object.get().bytes(), Usage.class).lastUsed().forEach((keyId, at) -> {
                if (at != null && wanted.contains(keyId)) {
                    found.merge(KeyId.of(keyId), at, UsageRecords::later);
                }
            });
        }
        return found;
    }

    private Written read(String objectKey)
    {
        return objects.get(objectKey)
                .map(found -> new Written(Documents.read(found.bytes(), Usage.class).lastUsed(), found.etag()))
                .orElse(new Written(Map.of(), null));
    }

    private static Instant later(Instant a, Instant b)
    {
        return b.isAfter(a) ? b : a;
    }
}

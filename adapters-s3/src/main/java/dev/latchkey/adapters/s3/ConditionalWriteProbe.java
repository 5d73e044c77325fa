package dev.latchkey.adapters.s3;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.util.Objects.requireNonNull;

/**
 * Before a handle's first write: whether the endpoint honours {@code If-None-Match: *} and {@code If-Match}. A
 * server that ignores them (S3Proxy does, as did AWS before 2024) would let concurrent writers overwrite each
 * other's commits, so the store refuses to write there at all.
 */
final class ConditionalWriteProbe
{
    private static final String WRONG_ETAG = "\"00000000000000000000000000000000\"";

    private final S3Objects objects;
    private final AtomicBoolean honoured = new AtomicBoolean();

    ConditionalWriteProbe(S3Objects objects)
    {
        this.objects = requireNonNull(objects, "objects is null");
    }

    /**
     * Returns once the endpoint was seen to honour conditional writes (probing it the first time).
     *
     * @throws LatchkeyException UNAVAILABLE when it does not, or cannot be reached
     */
    void requireHonoured()
    {
        if (honoured.get()) {
            return;
        }
        String nonce = UUID.randomUUID().toString();
        String probe = ObjectLayout.probe(nonce);
        byte[] bytes = Documents.write(new Documents.Probe(nonce));
        // a refusal of the first PUT may be the SDK's retry of a PUT that succeeded: the nonce tells
        boolean created = objects.putIfAbsent(probe, bytes).isPresent()
                || objects.get(probe).map(found -> Documents.read(found.bytes(), Documents.Probe.class).nonce().equals(nonce)).orElse(false);
        boolean createdAgain = objects.putIfAbsent(probe, bytes).isPresent();
        boolean replacedWithWrongTag = created && !createdAgain && objects.putIfMatch(probe, bytes, WRONG_ETAG).isPresent();
        objects.delete(probe);
        if (!created || createdAgain || replacedWithWrongTag) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 endpoint does not honour conditional writes (If-None-Match: *, If-Match), "
                    + "which the store needs to keep concurrent writes from overwriting each other");
        }
        honoured.set(true);
    }
}

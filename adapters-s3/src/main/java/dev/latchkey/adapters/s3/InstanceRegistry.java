package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Instance;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.InstanceRecord;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The instance registry: one object per instance, {@code instances/<instanceId>.json}, which only that instance
 * writes and removes. Never part of the feed, never audited (it changes no lookup).
 * <p>
 * Publishing is one unconditional PUT of the instance's object (no condition is needed: no one else writes it, and a
 * PUT retried after a lost answer writes the same bytes again); removing is one DELETE (S3 answers a DELETE of an
 * absent object as a success). A listing is one LIST of {@code instances/} (one per thousand instances) and a GET of
 * each object, side by side: an object deleted between the LIST and its GET is left out, and so is one that does not
 * hold a record of the instance it is named after (written by hand, or by a later version), with a DEBUG log line.
 */
final class InstanceRegistry
{
    private static final System.Logger LOG = System.getLogger(InstanceRegistry.class.getName());

    private final S3Objects objects;
    private final ParallelReads parallel;

    InstanceRegistry(S3Objects objects, ParallelReads parallel)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.parallel = requireNonNull(parallel, "parallel is null");
    }

    void publish(InstanceRecord record)
    {
        objects.put(ObjectLayout.instance(record.instanceId()), Documents.write(Instance.of(record)));
    }

    void remove(String instanceId)
    {
        objects.delete(ObjectLayout.instance(instanceId));
    }

    /**
     * Every record, in instance id order.
     */
    List<InstanceRecord> list()
    {
        List<String> names = objects.list(ObjectLayout.INSTANCES).stream()
                .filter(name -> ObjectLayout.instanceOfListedName(name).isPresent())
                .toList();
        List<Optional<Versioned>> read = parallel.map(names, name -> objects.get(ObjectLayout.INSTANCES + name));
        List<InstanceRecord> records = new ArrayList<>(names.size());
        for (int i = 0; i < names.size(); i++) {
            String instanceId = ObjectLayout.instanceOfListedName(names.get(i)).orElseThrow();
            // empty: removed since the LIST (the instance stopped)
            read.get(i).flatMap(object -> parse(instanceId, object.bytes())).ifPresent(records::add);
        }
        records.sort(Comparator.comparing(InstanceRecord::instanceId));
        return records;
    }

    private static Optional<InstanceRecord> parse(String instanceId, byte[] bytes)
    {
        InstanceRecord record;
        try {
            record = Documents.read(bytes, Instance.class).toRecord();
        }
        catch (LatchkeyException e) {
            LOG.log(System.Logger.Level.DEBUG, "skipping the unreadable instance record {0}: {1}", ObjectLayout.instance(instanceId), e.getMessage());
            return Optional.empty();
        }
        if (!record.instanceId().equals(instanceId)) {
            LOG.log(System.Logger.Level.DEBUG, "skipping the instance record {0}, which names another instance", ObjectLayout.instance(instanceId));
            return Optional.empty();
        }
        return Optional.of(record);
    }
}

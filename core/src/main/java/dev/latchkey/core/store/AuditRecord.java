package dev.latchkey.core.store;

import static java.util.Objects.requireNonNull;

/**
 * One committed write as the audit trail keeps it: what changed (the change, with its feed position, ids and commit
 * time; never a key or a hash) and where it came from.
 */
public record AuditRecord(Change change, Origin origin)
{
    public AuditRecord
    {
        requireNonNull(change, "change is null");
        requireNonNull(origin, "origin is null");
    }
}

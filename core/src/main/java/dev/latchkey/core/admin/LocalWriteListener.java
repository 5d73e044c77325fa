package dev.latchkey.core.admin;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.store.ChangeType;

import java.util.List;

/**
 * Told of every write that {@link AdminService} made, after the store acknowledged it and before the admin call
 * returns, so that this instance's cache reflects its own writes at once (read your writes on the writer).
 */
public interface LocalWriteListener
{
    LocalWriteListener NONE = (type, accountId, keyIds) -> {};

    /**
     * Told after a write made on this instance has committed, before the admin call returns.
     *
     * @param keyIds the keys the write affected, as in {@link dev.latchkey.core.store.Change#keyIds()}
     */
    void written(ChangeType type, AccountId accountId, List<KeyId> keyIds);
}

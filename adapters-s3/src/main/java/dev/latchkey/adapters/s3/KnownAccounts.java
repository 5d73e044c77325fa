package dev.latchkey.adapters.s3;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.latchkey.adapters.s3.LiveViews.AccountRead;
import dev.latchkey.core.domain.AccountId;

import java.util.Optional;

/**
 * The newest version of each account object that this handle's writes read or wrote (a bounded number of them):
 * where a batch may start its checks of an account instead of reading it again, folding in every entry committed
 * about the account since from the feed ({@link LiveViews#foldKnown}). Never an answer to a read, and never
 * trusted beyond that: the head's condition still decides every commit, and a settle with a version that changed
 * since fails its condition and reads the object again.
 */
final class KnownAccounts
{
    private static final int MAX_ACCOUNTS = 4096;

    private final Cache<String, AccountRead> accounts = Caffeine.newBuilder().maximumSize(MAX_ACCOUNTS).build();

    Optional<AccountRead> get(AccountId accountId)
    {
        return Optional.ofNullable(accounts.getIfPresent(accountId.value()));
    }

    /**
     * Keeps this version of the account object unless one that counts more entries is known.
     */
    void saw(AccountId accountId, AccountRead read)
    {
        accounts.asMap().merge(accountId.value(), read, (known, next) -> next.account().applied() >= known.account().applied() ? next : known);
    }
}

package dev.latchkey.adapters.s3;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.core.domain.UserId;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static java.util.Objects.requireNonNull;

/**
 * The user ids of the accounts that this handle's writes add users to (a bounded number of them): listed once, then
 * kept up to date from the feed, so that checking that a new user's id is free needs no read of its object. Every
 * user is created by a committed entry, and an entry stops being listed as unapplied in the head only once its user's
 * object is written: so a listing of an account's users made after a head was read, with the users of the entries
 * that head leaves pending, holds every user the account had then (and some removed since: those are read, as
 * before). The users of later entries come from the feed, whose pages this handle keeps.
 * <p>
 * An account is listed at its check for a second user here: a single new user in an account costs one read of its
 * object, as before, rather than a LIST (which AWS prices as 12.5 GETs). One with more users than one LIST page answers
 * is not listed: its users are read.
 */
final class KnownUsers
{
    /** The most users an account may have to be listed here: one LIST request (of at most 1,000 names) tells. */
    static final int MAX_LISTED = 999;
    /** How many user ids are kept, at most, over all accounts. */
    private static final long MAX_KEPT = 100_000;

    private final S3Objects objects;
    private final Feed feed;
    private final int maxListed;
    private final Cache<String, Known> accounts = Caffeine.newBuilder()
            .maximumWeight(MAX_KEPT)
            .weigher((String account, Known known) -> known instanceof Known.Listed listed ? 1 + listed.users().size() : 1)
            .build();

    private sealed interface Known
    {
        /**
         * Checked for one user, by reading it: a check for another user lists the account (a write's checks may run
         * more than once, in its batch's attempts).
         */
        record CheckedOnce(String userId) implements Known {}

        /** Being listed by one check: the others read their users meanwhile. */
        record Listing() implements Known {}

        /** Too many users to keep: each is read. */
        record TooMany() implements Known {}

        /**
         * Every user of the account's incarnation that an entry at or before {@code through} created, and some it
         * removed since.
         */
        record Listed(long through, Set<String> users) implements Known
        {
            public Listed
            {
                users = Set.copyOf(users);
            }
        }
    }

    KnownUsers(S3Objects objects, Feed feed)
    {
        this(objects, feed, MAX_LISTED);
    }

    /**
     * @param maxListed how many users an account may have, at most, to be listed here
     */
    KnownUsers(S3Objects objects, Feed feed, int maxListed)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.feed = requireNonNull(feed, "feed is null");
        if (maxListed < 1 || maxListed > MAX_LISTED) {
            throw new IllegalArgumentException("maxListed must be between 1 and " + MAX_LISTED);
        }
        this.maxListed = maxListed;
    }

    /**
     * Whether no user with this id exists in the account as {@code view} leaves it at {@code head}, known without
     * reading the user's object; false when not known (the caller reads it). The caller looked at the view's
     * pending entries first: one about the user decides.
     *
     * @param view the account as of {@code head}, read or brought up to date after {@code head} was read
     */
    boolean absent(AccountView view, UserId userId, Head head)
    {
        String account = view.account().accountId() + "/" + view.incarnation();
        Known known = accounts.asMap().putIfAbsent(account, new Known.CheckedOnce(userId.value()));
        Optional<Known.Listed> listed = known instanceof Known.Listed found ? upTo(found, view, head) : Optional.empty();
        boolean another = known instanceof Known.CheckedOnce once && !once.userId().equals(userId.value());
        if (listed.isEmpty() && (another || known instanceof Known.Listed) && accounts.asMap().replace(account, known, new Known.Listing())) {
            // this check lists the account; checks meanwhile read their users
            Known fresh;
            try {
                fresh = list(view, head);
            }
            catch (RuntimeException e) {
                accounts.asMap().replace(account, new Known.Listing(), new Known.CheckedOnce(userId.value()));
                throw e;
            }
            accounts.put(account, fresh);
            listed = fresh instanceof Known.Listed freshListed ? Optional.of(freshListed) : Optional.empty();
        }
        else if (listed.isPresent() && listed.get() != known) {
            Known.Listed newer = listed.get();
            accounts.asMap().computeIfPresent(account, (name, kept) -> kept instanceof Known.Listed keptListed && keptListed.through() >= newer.through() ? kept : newer);
        }
        return listed.map(users -> !users.users().contains(userId.value())).orElse(false);
    }

    /**
     * The listing brought up to {@code head} with the users of the entries committed since; empty when that is more
     * than a few pages of the feed away, or they are not at hand.
     */
    private Optional<Known.Listed> upTo(Known.Listed listed, AccountView view, Head head)
    {
        if (listed.through() >= head.position()) {
            // made as of a newer head: it holds at least every user there was at this one
            return Optional.of(listed);
        }
        if (head.position() - listed.through() > LiveViews.KNOWN_LAG) {
            return Optional.empty();
        }
        return feed.entriesAfter(head, listed.through(), objects, 1).map(entries -> {
            Set<String> added = new HashSet<>();
            addUsers(added, entries, view);
            if (listed.users().containsAll(added)) {
                // as a rule: the set is not copied for every check
                return new Known.Listed(head.position(), listed.users());
            }
            added.addAll(listed.users());
            return new Known.Listed(head.position(), added);
        });
    }

    private Known list(AccountView view, Head head)
    {
        // one more than may be kept tells that there are too many; a page cut short (S3 may answer fewer) is not all
        S3Objects.Page page = objects.listPage(ObjectLayout.users(view.account().accountId(), view.incarnation()), maxListed + 1);
        if (page.truncated() || page.names().size() > maxListed) {
            return new Known.TooMany();
        }
        Set<String> users = new HashSet<>();
        page.names().forEach(name -> ObjectLayout.userOfListedName(name).ifPresent(users::add));
        // committed by the head and maybe not written yet (and, in a batch, its own earlier writes: more is harmless)
        addUsers(users, view.pending(), view);
        return new Known.Listed(head.position(), users);
    }

    private static void addUsers(Set<String> users, List<Entry> entries, AccountView view)
    {
        for (Entry entry : entries) {
            if (entry.userId() != null && entry.accountId().equals(view.account().accountId()) && entry.incarnation().equals(view.incarnation())) {
                users.add(entry.userId());
            }
        }
    }
}

"""Cache invalidation for the session check (see selectors.session_check).

Revocation writes a `stale` marker over the session's cache entry at once (and `revoked`
on commit), so the next request with that session's access token is refused.
"""

from django.core.cache import cache
from django.db import transaction

from .. import selectors
from ..models import User


def user_cache_invalidate(*, user_id) -> None:
    """Forget the user's cached snapshot now; once committed, cache the saved row.

    Writing the committed row (rather than only deleting) overwrites a refill that a
    concurrent request may have made from the pre-commit row.
    """
    key = selectors.user_cache_key(user_id)
    cache.delete(key)

    def refill():
        user = User.objects.filter(pk=user_id).only(*selectors.SNAPSHOT_FIELDS).first()
        if user is None:
            cache.delete(key)
        else:
            cache.set(key, selectors.user_snapshot(user), timeout=selectors.SNAPSHOT_TTL)

    transaction.on_commit(refill)


def sessions_cache_invalidate(session_ids) -> None:
    """Cut the sessions off at once; once committed, cache them as revoked.

    The `stale` marker written now sends readers to the database; the `revoked` written
    after the commit overwrites any refill made from the pre-commit row.
    """
    keys = [selectors.session_cache_key(sid) for sid in session_ids]
    if not keys:
        return
    cache.set_many(dict.fromkeys(keys, selectors.STALE), timeout=selectors.STALE_TTL)
    revoked = dict.fromkeys(keys, selectors.REVOKED)
    transaction.on_commit(lambda: cache.set_many(revoked, timeout=selectors.SNAPSHOT_TTL))


def users_cache_forget(user_ids) -> None:
    """Drop the cached snapshots of these users now and again once committed.

    Used when permissions change (a group gains a permission, a user joins a group): the
    next request reads the database and caches the new permissions. The second delete, on
    commit, removes a refill a concurrent request may have made from the pre-commit rows.
    """
    keys = [selectors.user_cache_key(pk) for pk in set(user_ids)]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))

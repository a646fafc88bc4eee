"""The account itself: profile changes and deactivation."""

from django.db import transaction

from ..client import NO_CLIENT
from ..models import AuthEvent, User
from .invalidation import user_cache_invalidate
from .sessions import sessions_revoke_for_user

Kind = AuthEvent.Kind


@transaction.atomic
def user_profile_update(*, user, **fields) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    changed = [name for name in ("first_name", "last_name") if name in fields]
    for name in changed:
        setattr(user, name, fields[name])
    if changed:
        user.full_clean(validate_unique=False, validate_constraints=False)
        user.save(update_fields=changed)
    return user


@transaction.atomic
def user_deactivate(*, user, actor=None, client=NO_CLIENT) -> int:
    """Deactivate the account and end all its sessions; return how many ended."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user_cache_invalidate(user_id=user.pk)
    return sessions_revoke_for_user(
        user=user, reason="user_deactivated", client=client, actor=actor, kind=Kind.USER_DEACTIVATED
    )

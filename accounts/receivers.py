"""Signal receivers of accounts: web logins open a device Session, logouts end it."""

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from . import services
from .client import client_from_request
from .middleware import WEB_SESSION_KEY
from .models import User
from .services.invalidation import users_cache_forget


@receiver(user_logged_in, dispatch_uid="accounts_web_session_start")
def web_session_start(sender, request, user, **kwargs):
    """Every django.contrib.auth.login() (pages, admin, test force_login) gets a Session."""
    if request is None or not hasattr(request, "session"):
        return
    login_via = getattr(request, "accounts_login_via", None) or {"via": "web"}
    session = services.web_session_start(
        user=user, client=client_from_request(request), **login_via
    )
    request.session[WEB_SESSION_KEY] = str(session.pk)


@receiver(user_logged_out, dispatch_uid="accounts_web_session_end")
def web_session_end(sender, request, user, **kwargs):
    session_id = request.session.get(WEB_SESSION_KEY) if request is not None else None
    if session_id:
        services.logout(session_id=session_id, client=client_from_request(request))


@receiver(post_save, sender=User, dispatch_uid="accounts_user_cache_invalidate_save")
@receiver(post_delete, sender=User, dispatch_uid="accounts_user_cache_invalidate_delete")
def user_cache_invalidate(sender, instance, created=False, update_fields=None, **kwargs):
    """Drop the user's cached snapshot when it changes (a new user has none to drop)."""
    if created or (update_fields is not None and set(update_fields) == {"last_login"}):
        return
    services.user_cache_invalidate(user_id=instance.pk)


# ------------------------------------------------------------------------------
# Permissions are part of the cached snapshot: forget it when they change.
# ------------------------------------------------------------------------------
def _users_of_groups(group_ids) -> list[int]:
    return list(User.objects.filter(groups__in=list(group_ids)).values_list("pk", flat=True))


def _users_of_permission(permission_id) -> list[int]:
    direct = User.objects.filter(user_permissions=permission_id).values_list("pk", flat=True)
    via_group = User.objects.filter(groups__permissions=permission_id).values_list("pk", flat=True)
    return [*direct, *via_group]


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="accounts_perms_user_groups")
def user_groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """user.groups.add(...) or group.user_set.add(...)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        users_cache_forget([instance.pk])
    elif action == "pre_clear":
        users_cache_forget(_users_of_groups([instance.pk]))
    else:
        users_cache_forget(pk_set or ())


@receiver(
    m2m_changed, sender=User.user_permissions.through, dispatch_uid="accounts_perms_user_perms"
)
def user_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """user.user_permissions.add(...) or permission.user_set.add(...)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        users_cache_forget([instance.pk])
    elif action == "pre_clear":
        users_cache_forget(
            User.objects.filter(user_permissions=instance.pk).values_list("pk", flat=True)
        )
    else:
        users_cache_forget(pk_set or ())


@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="accounts_perms_group")
def group_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """group.permissions.add(...) or permission.group_set.add(...)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        users_cache_forget(_users_of_groups([instance.pk]))
    elif action == "pre_clear":
        users_cache_forget(
            User.objects.filter(groups__permissions=instance.pk).values_list("pk", flat=True)
        )
    else:
        users_cache_forget(_users_of_groups(pk_set or ()))


@receiver(pre_delete, sender=Group, dispatch_uid="accounts_perms_group_delete")
def group_deleted(sender, instance, **kwargs):
    users_cache_forget(_users_of_groups([instance.pk]))


@receiver(pre_delete, sender=Permission, dispatch_uid="accounts_perms_permission_delete")
def permission_deleted(sender, instance, **kwargs):
    users_cache_forget(_users_of_permission(instance.pk))

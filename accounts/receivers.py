"""Signal receivers of accounts: web logins open a device Session, logouts end it."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import services
from .client import client_from_request
from .middleware import WEB_SESSION_KEY
from .models import User


@receiver(user_logged_in, dispatch_uid="accounts_web_session_start")
def web_session_start(sender, request, user, **kwargs):
    """Every django.contrib.auth.login() (pages, admin, test force_login) gets a Session."""
    if request is None or not hasattr(request, "session"):
        return
    session = services.web_session_start(user=user, client=client_from_request(request))
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

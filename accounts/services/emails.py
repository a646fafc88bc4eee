"""The mails accounts sends (run by tasks, outside any transaction) and their links."""

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from outbox.mail import mail_send

from .. import codes, tokens
from ..client import NO_CLIENT
from ..links import email_link
from ..models import AuthEvent, User, email_normalize
from .events import event


def mail_allowed(*, kind: str, email: str, user=None, client=NO_CLIENT) -> bool:
    """Take one of the hourly mails of this kind to this address; False past the cap.

    MAIL_CAP_PER_HOUR (3) mails per address and kind (verification, reset, "you already
    have an account") in a window that starts with the first one, so nobody can turn the
    shop into a mail cannon against an inbox. Callers still answer 202: a refusal is only
    written to the auth log.
    """
    digest = hashlib.sha256(email_normalize(email).encode()).hexdigest()[:40]
    key = f"accounts:mailcap:{kind}:{digest}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    if count <= settings.MAIL_CAP_PER_HOUR:
        return True
    event(AuthEvent.Kind.MAIL_CAPPED, client=client, user=user, email=email, mail=kind)
    return False


def uidb64(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def user_from_uidb64(value: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(value)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


def email_verification_token_make(*, user: User) -> str:
    """Return the token of the verification link: `<uidb64>.<timestamp>-<hash>`."""
    return f"{uidb64(user)}.{tokens.email_verification_token.make_token(user)}"


def _mail(
    *, user: User, subject: str, template: str, context: Callable[[], dict], once_key: str | None
) -> bool:
    """Send one mail to the user; `context` is made only when the mail goes out."""

    def build() -> EmailMessage:
        body = render_to_string(
            template,
            {
                "user": user,
                "site_url": settings.SITE_URL,
                "shop_name": settings.SHOP_NAME,
                **context(),
            },
        )
        return EmailMessage(f"{settings.SHOP_NAME}: {subject}", body, to=[user.email])

    return mail_send(build=build, once_key=once_key)


def verification_email_send(*, user_id: int, once_key: str | None = None) -> bool:
    """Send the verification link; False when the account is gone or already verified.

    `once_key` (a task's id) makes a second run of the same task send nothing.
    """
    user = User.objects.filter(pk=user_id, is_active=True, email_verified=False).first()
    if user is None:
        return False
    return _mail(
        user=user,
        subject="confirm your email address",
        template="accounts/email/verification.txt",
        context=lambda: {
            "link": email_link("verify", token=email_verification_token_make(user=user)),
            "hours": settings.EMAIL_VERIFICATION_TIMEOUT // 3600,
            "code": codes.code_issue(purpose="verify", user=user),
            "code_minutes": settings.EMAIL_CODE_MINUTES,
        },
        once_key=once_key and f"accounts.verify:{once_key}",
    )


def account_exists_email_send(*, user_id: int, once_key: str | None = None) -> bool:
    """Tell the owner of an email that someone tried to register it again."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    return _mail(
        user=user,
        subject="you already have an account",
        template="accounts/email/account_exists.txt",
        context=lambda: {"login_url": f"{settings.SITE_URL}/account/login/"},
        once_key=once_key and f"accounts.exists:{once_key}",
    )


def password_reset_email_send(*, user_id: int, once_key: str | None = None) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False

    def context() -> dict:
        token = default_token_generator.make_token(user)
        return {
            "link": email_link("reset", uid=uidb64(user), token=token),
            "code": codes.code_issue(purpose="reset", user=user),
            "code_minutes": settings.EMAIL_CODE_MINUTES,
            "uid": uidb64(user),
            "token": token,
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        }

    return _mail(
        user=user,
        subject="reset your password",
        template="accounts/email/password_reset.txt",
        context=context,
        once_key=once_key and f"accounts.reset:{once_key}",
    )

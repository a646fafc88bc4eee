"""Changing an account's email address: verified at the new address, announced to the old.

1. `email_change_request` checks the password and mails a signed link to the new address
   (and a notice to the old one). A new address that already has an account gets a notice
   instead of a link, and the answer is the same, so nobody learns who is registered.
   Each of these mails is capped per address and kind like the other account mails
   (`mail_allowed`): past the cap nothing is sent, and the answer is still the same.
2. `email_change_confirm` applies the link: the account's email becomes the new one,
   verified. The link stops working once the email or the password changes.
"""

import hashlib

from celery import shared_task
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from outbox.mail import mail_send
from outbox.services import task_enqueue

from .errors import InvalidToken
from .models import User, email_normalize
from .services.emails import mail_allowed

SALT = "accounts.email-change"


def _state(user: User) -> str:
    """A fingerprint of what the link was made for: it changes with the email or password."""
    return hashlib.sha256(f"{user.pk}:{user.email}:{user.password}".encode()).hexdigest()[:32]


def email_change_token_make(*, user: User, new_email: str) -> str:
    return signing.dumps({"u": user.pk, "e": new_email, "s": _state(user)}, salt=SALT)


# Mails anyone with an account can ask for again and again, aimed at any address: capped.
# "changed" is not: one per change actually made, and the old owner must hear of each.
CAPPED_KINDS = ("confirm", "taken", "requested")


def _queue(kind: str, user: User, address: str, new_email: str, link: str = "") -> None:
    if kind in CAPPED_KINDS and not mail_allowed(
        kind=f"email_change_{kind}", email=address, user=user
    ):
        return
    # Through the outbox: queued in this transaction, sent to the broker after the commit.
    task_enqueue("accounts.tasks.email_change_mail_send", kind, user.pk, address, new_email, link)


@transaction.atomic
def email_change_request(*, user: User, new_email: str, password: str) -> None:
    """Mail a confirmation link to `new_email` (or a notice if it is taken) and tell the old one."""
    if not user.check_password(password):
        raise ValidationError({"password": ["Your password is not correct."]}, code="invalid")
    new_email = email_normalize(new_email)
    if new_email == user.email:
        raise ValidationError({"new_email": ["This is already your email address."]}, code="same")
    if User.objects.filter(email=new_email).exclude(pk=user.pk).exists():
        _queue("taken", user, new_email, new_email)
    else:
        token = email_change_token_make(user=user, new_email=new_email)
        link = f"{settings.SITE_URL.rstrip('/')}/account/email/confirm/{token}/"
        _queue("confirm", user, new_email, new_email, link)
    _queue("requested", user, user.email, new_email)


@transaction.atomic
def email_change_confirm(*, token: str) -> User:
    """Make the link's new address the account's (verified); tell the old address."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.EMAIL_VERIFICATION_TIMEOUT)
    except signing.BadSignature:
        raise InvalidToken() from None
    if not isinstance(data, dict):
        raise InvalidToken()
    user = User.objects.select_for_update().filter(pk=data.get("u"), is_active=True).first()
    if user is None or data.get("s") != _state(user):
        raise InvalidToken()
    old_email, new_email = user.email, str(data.get("e", ""))
    user.email, user.email_verified = new_email, True
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "email_verified"])
    except IntegrityError:  # taken since the link was sent
        raise ValidationError(
            "This address now belongs to another account.", code="email_taken"
        ) from None
    from .services import user_cache_invalidate  # services are being split; imported lazily

    user_cache_invalidate(user_id=user.pk)
    _queue("changed", user, old_email, new_email)
    return user


def email_change_mail(
    *,
    kind: str,
    user_id: int,
    address: str,
    new_email: str,
    link: str = "",
    once_key: str | None = None,
):
    """Send one of the email-change mails; False when the account is gone."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    subjects = {
        "confirm": "confirm your new email address",
        "taken": "an email change to this address",
        "requested": "a change of your email address was requested",
        "changed": "your email address was changed",
    }

    def build() -> EmailMessage:
        body = render_to_string(
            f"accounts/email/email_change_{kind}.txt",
            {
                "user": user,
                "new_email": new_email,
                "link": link,
                "hours": settings.EMAIL_VERIFICATION_TIMEOUT // 3600,
                "shop_name": settings.SHOP_NAME,
                "site_url": settings.SITE_URL,
            },
        )
        return EmailMessage(f"{settings.SHOP_NAME}: {subjects[kind]}", body, to=[address])

    return mail_send(build=build, once_key=once_key and f"accounts.email-change:{once_key}")


@shared_task(bind=True, name="accounts.tasks.email_change_mail_send", acks_late=True)
def email_change_mail_send(
    self, kind: str, user_id: int, address: str, new_email: str, link: str = ""
):
    """Send one email-change mail, once per task id."""
    return email_change_mail(
        kind=kind,
        user_id=user_id,
        address=address,
        new_email=new_email,
        link=link,
        once_key=self.request.id,
    )

"""Registration and email verification."""

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Case, Q, When

from .. import tokens
from ..client import NO_CLIENT
from ..confusables import email_skeleton
from ..errors import InvalidToken
from ..models import AuthEvent, User, email_normalize
from .emails import mail_allowed, user_from_uidb64
from .events import event, task_after_commit
from .passwords import password_validate

Kind = AuthEvent.Kind


def _taken_by(email: str) -> User | None:
    """The account using this email, or one that looks the same (UTS #39 skeleton)."""
    return (
        User.objects.filter(Q(email=email) | Q(email_skeleton=email_skeleton(email)))
        .order_by(Case(When(email=email, then=0), default=1), "pk")
        .first()
    )


def user_register(
    *, email: str, password: str, first_name: str = "", last_name: str = "", client=NO_CLIENT
) -> None:
    """Create an unverified account and mail a verification link.

    A taken email, or one that looks the same as a taken one (a dotless i beside `kiss@`), gets
    the same answer (no enumeration): the owner is mailed instead, and the password is
    hashed anyway so both paths take about the same time.
    """
    email = email_normalize(email)
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    password_validate(password, candidate, field="password")
    existing = _taken_by(email)
    if existing is None:
        candidate.set_password(password)
        try:
            with transaction.atomic():
                candidate.save()
                event(Kind.REGISTER, client=client, user=candidate)
                if mail_allowed(kind="verification", email=email, user=candidate, client=client):
                    task_after_commit("email_verification_send", candidate.pk)
            return
        except IntegrityError:  # registered concurrently (or a look-alike was)
            existing = _taken_by(email)
    else:
        make_password(password)
    with transaction.atomic():
        event(Kind.REGISTER_EXISTING, client=client, user=existing, email=email)
        if existing is not None and mail_allowed(
            kind="account_exists", email=existing.email, user=existing, client=client
        ):
            task_after_commit("email_account_exists_send", existing.pk)


@transaction.atomic
def email_verify(*, token: str, client=NO_CLIENT) -> User:
    """Mark the email of the token's user verified; the token then stops working."""
    uidb64, _, user_token = (token or "").partition(".")
    user = user_from_uidb64(uidb64) if user_token else None
    if user is None or not tokens.email_verification_token.check_token(user, user_token):
        raise InvalidToken()
    user.email_verified = True
    user.save(update_fields=["email_verified"])
    event(Kind.EMAIL_VERIFIED, client=client, user=user)
    return user


@transaction.atomic
def verification_resend(*, email: str, client=NO_CLIENT) -> None:
    """Mail a new verification link if the email belongs to an unverified account."""
    user = User.objects.filter(
        email=email_normalize(email), is_active=True, email_verified=False
    ).first()
    if user is not None and mail_allowed(
        kind="verification", email=user.email, user=user, client=client
    ):
        event(Kind.VERIFICATION_SENT, client=client, user=user)
        task_after_commit("email_verification_send", user.pk)

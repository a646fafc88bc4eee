"""Passwords: validation, change (signed in) and reset (by mail)."""

from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction

from ..client import NO_CLIENT
from ..errors import InvalidToken, TooManyAttempts
from ..models import AuthEvent, User, email_normalize
from .emails import mail_allowed, user_from_uidb64
from .events import event, task_after_commit
from .lockout import lockout_clear, lockout_failure_record, lockout_retry_after
from .sessions import sessions_revoke_for_user

Kind = AuthEvent.Kind


def password_validate(password: str, user: User, *, field: str) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({field: exc.error_list}) from exc


def password_change(
    *, user, old_password: str, new_password: str, keep_session_id=None, client=NO_CLIENT
) -> User:
    """Change the password and end every other session of the user.

    A wrong old password is a failed sign-in: it counts toward the email's lockout (and is
    logged), and a locked-out email cannot change its password until the lockout ends.
    """
    user = User.objects.get(pk=user.pk)  # the request's user may be a cache snapshot
    retry_after = lockout_retry_after(email=user.email)
    if retry_after:
        event(Kind.LOGIN_LOCKED, client=client, user=user, via="password_change")
        raise TooManyAttempts(retry_after)
    if not user.check_password(old_password):
        failures = lockout_failure_record(user.email)
        event(
            Kind.LOGIN_FAILED,
            client=client,
            user=user,
            failures=failures,
            via="password_change",
        )
        raise ValidationError(
            {
                "old_password": [
                    ValidationError(
                        "Your current password was entered incorrectly.",
                        code="password_incorrect",
                    )
                ]
            }
        )
    password_validate(new_password, user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        sessions_revoke_for_user(
            user=user,
            reason="password_change",
            except_session_id=keep_session_id,
            client=client,
            kind=Kind.PASSWORD_CHANGE,
        )
    return user


@transaction.atomic
def password_reset_request(*, email: str, client=NO_CLIENT) -> None:
    """Mail a reset link if the email belongs to an active account; silent otherwise."""
    email = email_normalize(email)
    user = User.objects.filter(email=email, is_active=True).first()
    event(Kind.PASSWORD_RESET_REQUEST, client=client, user=user, email=email)
    if user is not None and mail_allowed(
        kind="password_reset", email=user.email, user=user, client=client
    ):
        task_after_commit("email_password_reset_send", user.pk)


def password_reset_user(*, uidb64: str, token: str) -> User | None:
    """Return the user of a valid reset link, or None."""
    user = user_from_uidb64(uidb64)
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        return None
    return user


def password_reset_confirm(*, uidb64: str, token: str, new_password: str, client=NO_CLIENT) -> User:
    """Set a new password from a reset link: every session ends, a lockout is lifted."""
    user = password_reset_user(uidb64=uidb64, token=token)
    if user is None:
        raise InvalidToken()
    password_validate(new_password, user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.email_verified = True  # the link reached the mailbox
        user.save(update_fields=["password", "email_verified"])
        sessions_revoke_for_user(
            user=user, reason="password_reset", client=client, kind=Kind.PASSWORD_RESET
        )
    lockout_clear(email=user.email)
    return user

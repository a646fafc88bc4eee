"""Two-factor authentication for staff, on django-otp devices.

A staff member enrols a TOTP device (an authenticator app scans a QR code made here, no
outside service) and gets ten single-use recovery codes (a django-otp static device).
Once enrolled, or whenever STAFF_2FA_REQUIRED is on, the API and the admin ask for the
second factor after the password:

- the API answers login with a challenge (`mfa_challenge_issue`), a signed token that
  lives MFA_CHALLENGE_TTL seconds, is spent by the first right code and dies after
  MFA_CHALLENGE_ATTEMPTS wrong ones; every wrong code also counts toward the email's
  lockout, like a wrong password;
- the admin keeps the half-signed-in user in its Django session until the code is right.

A superuser resets a lost device (`mfa_reset`); everything is in the auth event log.
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..client import NO_CLIENT
from ..errors import MFAChallengeInvalid, MFACodeInvalid, TooManyAttempts
from ..models import AuthEvent, User
from .events import event
from .lockout import lockout_failure_record, lockout_retry_after

Kind = AuthEvent.Kind

TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
RECOVERY_CODES = 10
CHALLENGE_SALT = "accounts.mfa.challenge"


# ------------------------------------------------------------------------------
# Who needs a second factor
# ------------------------------------------------------------------------------
def mfa_enrolled(user) -> bool:
    """True when the user has a confirmed authenticator."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def mfa_required(user) -> bool:
    """True when signing in needs a second factor: staff who enrolled, or any staff member
    when STAFF_2FA_REQUIRED is on (the default in production). Shoppers: never."""
    if not user.is_staff:
        return False
    return settings.STAFF_2FA_REQUIRED or mfa_enrolled(user)


# ------------------------------------------------------------------------------
# Enrolment
# ------------------------------------------------------------------------------
@transaction.atomic
def totp_enrolment_start(*, user) -> TOTPDevice:
    """Return the user's unconfirmed authenticator, creating it (with a new key) if needed."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def totp_qr_svg(*, device: TOTPDevice) -> str:
    """The otpauth:// URL of the device as an inline SVG QR code (made here, offline)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def totp_secret(*, device: TOTPDevice) -> str:
    """The key in base32, for typing into an app that cannot scan."""
    from base64 import b32encode

    return b32encode(device.bin_key).decode()


def totp_enrolment_confirm(*, user, code: str, client=NO_CLIENT) -> list[str]:
    """Confirm the pending authenticator with a code from it; return new recovery codes."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).first()
    if device is None or not device.verify_token(_digits(code)):
        raise MFACodeInvalid()
    with transaction.atomic():
        TOTPDevice.objects.filter(user_id=user.pk).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user)
        event(Kind.MFA_ENROLLED, client=client, user=user)
    return codes


def recovery_codes_regenerate(*, user, client=NO_CLIENT) -> list[str]:
    """Replace the recovery codes (the old ones stop working); return the new ones."""
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
        event(Kind.MFA_RECOVERY_CODES, client=client, user=user)
    return codes


def recovery_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).count()


def _recovery_codes_replace(user) -> list[str]:
    StaticDevice.objects.filter(user_id=user.pk).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def mfa_reset(*, user, actor, client=NO_CLIENT) -> int:
    """Remove every device of the user (a lost phone); only superusers may. Return how many."""
    if not (actor is not None and actor.is_superuser):
        raise PermissionError("Only a superuser resets two-factor authentication.")
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user_id=user.pk).delete()[1].get(model._meta.label, 0)
    event(Kind.MFA_RESET, client=client, user=user, actor=actor.pk, devices=removed)
    return removed


# ------------------------------------------------------------------------------
# Verification
# ------------------------------------------------------------------------------
def _digits(code: str) -> str:
    return "".join(str(code or "").split())[:64]


def mfa_verify(*, user, code: str) -> str | None:
    """Check a code against the user's confirmed devices; return "totp", "recovery" or None.

    django-otp throttles each device after failures and refuses a TOTP code used before.
    """
    code = _digits(code)
    if not code:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(code):
                return "recovery" if isinstance(device, StaticDevice) else "totp"
    return None


def mfa_check(*, user, code: str, client=NO_CLIENT, via: str) -> str:
    """Verify the second factor of a user who gave the right password, or raise.

    A wrong code is logged and counts toward the email's lockout, like a wrong password.
    """
    retry_after = lockout_retry_after(email=user.email)
    if retry_after:
        event(Kind.LOGIN_LOCKED, client=client, user=user, via=via)
        raise TooManyAttempts(retry_after)
    method = mfa_verify(user=user, code=code)
    if method is None:
        failures = lockout_failure_record(user.email)
        event(Kind.MFA_FAILED, client=client, user=user, failures=failures, via=via)
        raise MFACodeInvalid()
    return method


# ------------------------------------------------------------------------------
# The API's challenge: a short-lived, single-use token between the two steps
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class MFAChallenge:
    challenge: str
    expires_in: int
    user: User
    enrolled: bool = True

    mfa_required = True


def _challenge_key(nonce: str) -> str:
    return f"accounts:mfa:challenge:{nonce}"


def mfa_challenge_issue(*, user, context: dict | None = None) -> MFAChallenge:
    ttl = settings.MFA_CHALLENGE_TTL
    nonce = secrets.token_urlsafe(18)
    cache.set(_challenge_key(nonce), 0, timeout=ttl)
    raw = signing.dumps({"uid": user.pk, "n": nonce, **(context or {})}, salt=CHALLENGE_SALT)
    return MFAChallenge(challenge=raw, expires_in=ttl, user=user)


def mfa_challenge_open(*, challenge: str) -> tuple[User, dict, str]:
    """Return the user, the context and the nonce of a live challenge, or raise."""
    try:
        data = signing.loads(
            str(challenge or "")[:2048], salt=CHALLENGE_SALT, max_age=settings.MFA_CHALLENGE_TTL
        )
        nonce = str(data["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise MFAChallengeInvalid() from exc
    if cache.get(_challenge_key(nonce)) is None:
        raise MFAChallengeInvalid()
    user = User.objects.filter(pk=data.get("uid"), is_active=True).first()
    if user is None:
        raise MFAChallengeInvalid()
    return user, data, nonce


def mfa_challenge_failure(*, nonce: str) -> None:
    """Count a wrong code on the challenge; past the limit the challenge is dead."""
    key = _challenge_key(nonce)
    try:
        attempts = cache.incr(key)
    except ValueError:
        return
    if attempts >= settings.MFA_CHALLENGE_ATTEMPTS:
        cache.delete(key)


def mfa_challenge_spend(*, nonce: str) -> bool:
    """Spend the challenge; False if another request spent it first."""
    return bool(cache.delete(_challenge_key(nonce)))

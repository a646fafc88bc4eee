"""Writes for accounts, split by concern the way django.contrib.auth keeps small modules:

- `sessions`: open (API or web), touch, revoke, log out, purge
- `login`: credentials check, login (first token pair), refresh (the next pairs)
- `lockout`: failures per email
- `mfa`: staff two-factor authentication (django-otp devices, the API's login challenge)
- `passwords`: validation, change, reset
- `registration`: register, verify the email, resend the link
- `emails`: the mails and their links (run by tasks)
- `users`: profile and deactivation
- `events`, `invalidation`: the auth log, after-commit tasks and cache invalidation

Callers import from `accounts.services`; the names below are its public surface.
"""

from ..client import NO_CLIENT, Client
from .emails import (
    account_exists_email_send,
    email_verification_token_make,
    password_reset_email_send,
    verification_email_send,
)
from .invalidation import user_cache_invalidate
from .lockout import lockout_clear, lockout_retry_after
from .login import (
    TokenPair,
    login,
    login_credentials_check,
    login_second_factor,
    token_refresh,
)
from .mfa import (
    MFAChallenge,
    mfa_enrolled,
    mfa_required,
    mfa_reset,
    recovery_codes_regenerate,
    totp_enrolment_confirm,
    totp_enrolment_start,
)
from .passwords import (
    password_change,
    password_reset_confirm,
    password_reset_request,
    password_reset_user,
)
from .registration import email_verify, user_register, verification_resend
from .sessions import (
    logout,
    logout_all,
    logout_with_refresh,
    session_create,
    session_end_for_user,
    session_revoke,
    session_touch,
    sessions_purge,
    sessions_revoke_for_user,
    web_session_start,
)
from .users import user_deactivate, user_profile_update

__all__ = [
    "NO_CLIENT",
    "Client",
    "MFAChallenge",
    "TokenPair",
    "account_exists_email_send",
    "email_verification_token_make",
    "email_verify",
    "lockout_clear",
    "lockout_retry_after",
    "login",
    "login_credentials_check",
    "login_second_factor",
    "logout",
    "logout_all",
    "logout_with_refresh",
    "mfa_enrolled",
    "mfa_required",
    "mfa_reset",
    "password_change",
    "password_reset_confirm",
    "password_reset_email_send",
    "password_reset_request",
    "password_reset_user",
    "recovery_codes_regenerate",
    "session_create",
    "session_end_for_user",
    "session_revoke",
    "session_touch",
    "sessions_purge",
    "sessions_revoke_for_user",
    "token_refresh",
    "totp_enrolment_confirm",
    "totp_enrolment_start",
    "user_cache_invalidate",
    "user_deactivate",
    "user_profile_update",
    "user_register",
    "verification_email_send",
    "verification_resend",
    "web_session_start",
]

"""Accounts domain errors (see config/api.py for the protocol: code, http_status)."""


class AccountsError(Exception):
    code = "accounts_error"
    http_status = 400
    default_message = "Authentication error."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)


class InvalidCredentials(AccountsError):
    code = "invalid_credentials"
    http_status = 401
    default_message = "The email or password is not correct."

    def headers(self) -> dict:
        return {"WWW-Authenticate": 'Bearer realm="api"'}


class EmailNotVerified(AccountsError):
    code = "email_not_verified"
    http_status = 403
    default_message = "Confirm your email address first; we can send the link again."


class TooManyAttempts(AccountsError):
    code = "too_many_attempts"
    http_status = 429
    default_message = (
        "Too many failed attempts for this email; try again later or reset the password."
    )

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict:
        return {"Retry-After": str(self.retry_after)}


class TokenError(AccountsError):
    """A refresh or access token that cannot be used."""

    http_status = 401

    def headers(self) -> dict:
        return {"WWW-Authenticate": 'Bearer realm="api"'}


class TokenInvalid(TokenError):
    code = "token_invalid"
    default_message = "The token is malformed or its session has ended."


class TokenExpired(TokenInvalid):
    """A well-formed token past its `exp`: refresh (an access token) or log in (a refresh)."""

    code = "token_expired"
    default_message = "The token has expired."


class TokenReused(TokenError):
    code = "token_reused"
    default_message = "This refresh token was already used; its session has been ended."


class TokenRotated(TokenError):
    code = "token_rotated"
    default_message = "This refresh token was just replaced; use the newest one."


class InvalidToken(AccountsError):
    """A bad or expired email-verification or password-reset token."""

    code = "invalid_token"
    http_status = 400
    default_message = "The link is invalid or has expired."


class InvalidCode(AccountsError):
    """A wrong, used, expired or worn-out (too many tries) 6-digit email code."""

    code = "invalid_code"
    http_status = 400
    default_message = "The code is wrong or has expired; ask for a new email."


class SessionNotFound(AccountsError):
    code = "not_found"
    http_status = 404
    default_message = "No such session."


class MFACodeInvalid(AccountsError):
    """A wrong or used second-factor code."""

    code = "mfa_code_invalid"
    http_status = 401
    default_message = "The code is not correct (or was already used)."


class MFAChallengeInvalid(AccountsError):
    """The login challenge is unknown, expired, spent or past its attempts."""

    code = "mfa_challenge_invalid"
    http_status = 401
    default_message = "This sign-in has expired; enter your email and password again."


class MFASetupRequired(AccountsError):
    code = "mfa_setup_required"
    http_status = 403
    default_message = "Staff accounts need two-factor authentication: set it up at /admin/ first."

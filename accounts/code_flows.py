"""Verify an email or reset a password with the 6-digit code of the email (accounts.codes).

The same outcome as the emailed link: these redeem the code, then run the link's service
with a token made for that user, so events, session ends and lockout clearing are shared.
"""

from django.contrib.auth.tokens import default_token_generator

from .client import NO_CLIENT
from .codes import code_redeem
from .models import User, email_normalize
from .services import email_verify, password_reset_confirm
from .services.emails import email_verification_token_make, uidb64
from .services.passwords import password_validate


def email_verify_with_code(*, email: str, code: str, client=NO_CLIENT) -> User:
    """Verify an email with the code from the verification email."""
    users = User.objects.filter(email_verified=False)
    user = code_redeem(purpose="verify", email=email, code=code, users=users)
    return email_verify(token=email_verification_token_make(user=user), client=client)


def password_reset_with_code(*, email: str, code: str, new_password: str, client=NO_CLIENT) -> User:
    """Set a new password with the code from the reset email; every session ends."""
    email = email_normalize(email)
    # A weak password is refused before the code is spent, so the user can try again.
    candidate = User.objects.filter(email=email).first() or User(email=email)
    password_validate(new_password, candidate, field="new_password")
    user = code_redeem(purpose="reset", email=email, code=code)
    return password_reset_confirm(
        uidb64=uidb64(user),
        token=default_token_generator.make_token(user),
        new_password=new_password,
        client=client,
    )

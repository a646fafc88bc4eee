import math

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from .models import User


def _email_field() -> forms.EmailField:
    return forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


def _password_field(label: str | None = None, *, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


class _PasswordPairForm(forms.Form):
    """A new password typed twice; `password_field` names the first of the pair."""

    password_field = "password"

    def clean(self):
        cleaned = super().clean()
        confirm = f"{self.password_field}_confirm"
        if cleaned.get(self.password_field) != cleaned.get(confirm):
            self.add_error(confirm, "The two passwords do not match.")
        return cleaned


class LoginForm(forms.Form):
    email = _email_field()
    password = _password_field(autocomplete="current-password")


class RegisterForm(_PasswordPairForm):
    email = _email_field()
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = _password_field(autocomplete="new-password")
    password_confirm = _password_field("Password again", autocomplete="new-password")


class EmailForm(forms.Form):
    email = _email_field()


class SetPasswordForm(_PasswordPairForm):
    password_field = "new_password"

    new_password = _password_field(autocomplete="new-password")
    new_password_confirm = _password_field("New password again", autocomplete="new-password")


class PasswordChangeForm(SetPasswordForm):
    old_password = _password_field("Current password", autocomplete="current-password")
    field_order = ("old_password", "new_password", "new_password_confirm")


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name")


# ------------------------------------------------------------------------------
# The admin's door: the same check as the API and the shop's login page
# ------------------------------------------------------------------------------
class AdminLoginForm(AdminAuthenticationForm):
    """Admin sign-in through services.login_credentials_check: the per-email lockout, the
    per-address throttle and the auth log are the API's and the shop's."""

    def clean(self):
        from . import services
        from .client import client_from_request
        from .errors import EmailNotVerified, InvalidCredentials, TooManyAttempts
        from .throttling import login_throttle_wait

        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not (email and password):
            return self.cleaned_data
        wait = login_throttle_wait(self.request)
        if wait:
            raise ValidationError(
                f"Too many sign-in attempts from your address; try again in {wait} second(s).",
                code="throttled",
            )
        try:
            user = services.login_credentials_check(
                email=email,
                password=password,
                client=client_from_request(self.request),
                via="admin",
            )
        except InvalidCredentials:
            raise self.get_invalid_login_error() from None
        except EmailNotVerified as exc:
            raise ValidationError(str(exc), code="email_not_verified") from None
        except TooManyAttempts as exc:
            minutes = math.ceil(exc.retry_after / 60)
            raise ValidationError(
                f"Too many failed attempts for this email. Try again in {minutes} minute(s).",
                code="too_many_attempts",
            ) from None
        self.confirm_login_allowed(user)  # staff only, same message as a wrong password
        self.user_cache = user
        return self.cleaned_data


class MFACodeForm(forms.Form):
    step = forms.CharField(widget=forms.HiddenInput, initial="mfa")
    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="The 6 digits from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

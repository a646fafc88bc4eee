from django import forms

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

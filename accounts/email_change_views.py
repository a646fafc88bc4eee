"""Pages to change the account's email address (see accounts.email_change)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from . import email_change
from .errors import InvalidToken


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(
        label="New email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Your password",
        strip=False,
        help_text="To make sure it is you.",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def email_change_view(request):
    form = EmailChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            email_change.email_change_request(
                user=request.user,
                new_email=form.cleaned_data["new_email"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                f"Check {form.cleaned_data['new_email']} for a link to confirm the change. "
                "Until then you keep logging in with your current address.",
            )
            return redirect("accounts:account")
    return render(
        request,
        "accounts/form_page.html",
        {
            "form": form,
            "title": "Change your email address",
            "submit": "Send confirmation link",
            "intro": f"Your email address is {request.user.email}. We send a link to the new "
            "address; the change happens when you open it.",
        },
    )


@require_http_methods(["GET", "POST"])
def email_change_confirm_view(request, token):
    """The link from the mail: a page whose button makes the change (mail scanners only GET)."""
    if request.method == "POST":
        try:
            user = email_change.email_change_confirm(token=token)
        except InvalidToken as exc:
            messages.error(request, str(exc))
            return redirect("accounts:account" if request.user.is_authenticated else "/")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("accounts:account" if request.user.is_authenticated else "/")
        messages.success(request, f"Your email address is now {user.email}.")
        return redirect("accounts:account" if request.user.is_authenticated else "accounts:login")
    return render(
        request,
        "accounts/form_page.html",
        {
            "form": forms.Form(),
            "title": "Confirm your new email address",
            "submit": "Confirm the change",
        },
    )


urlpatterns = [
    path("account/email/", email_change_view, name="email_change"),
    path(
        "account/email/confirm/<str:token>/",
        email_change_confirm_view,
        name="email_change_confirm",
    ),
]

"""Account pages: login, registration, verification, device sessions and passwords."""

import math
import time
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import selectors, services
from .admin_site import MFA_PENDING_KEY
from .client import Client, client_from_request
from .errors import (
    EmailNotVerified,
    InvalidCredentials,
    InvalidToken,
    SessionNotFound,
    TooManyAttempts,
)
from .forms import (
    EmailForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RegisterForm,
    SetPasswordForm,
)
from .middleware import WEB_SESSION_KEY
from .throttling import login_throttle_wait

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _client(request) -> Client:
    return client_from_request(request)


def _form_page(request, form, *, title, submit, intro="", status=200, extra=None):
    context = {"form": form, "title": title, "submit": submit, "intro": intro, **(extra or {})}
    return render(request, "accounts/form_page.html", context, status=status)


def _redirect_target(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return settings.LOGIN_REDIRECT_URL


def login_view(request):
    if request.user.is_authenticated:
        return redirect(_redirect_target(request))
    form = LoginForm(request.POST or None)
    status = 200
    wait = login_throttle_wait(request) if request.method == "POST" else None
    if wait:
        form.is_valid()
        form.add_error(None, f"Too many sign-in attempts; try again in {wait} second(s).")
        status = 429
    elif request.method == "POST" and form.is_valid():
        try:
            user = services.login_credentials_check(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                client=_client(request),
                via="web",
            )
        except InvalidCredentials as exc:
            form.add_error(None, str(exc))
            status = 401
        except EmailNotVerified as exc:
            form.add_error(None, str(exc))
            status = 403
        except TooManyAttempts as exc:
            minutes = math.ceil(exc.retry_after / 60)
            form.add_error(
                None,
                f"Too many failed attempts for this email. Try again in {minutes} minute(s), "
                "or reset your password.",
            )
            status = 429
        else:
            if services.mfa_required(user):
                # Staff with a second factor finish at the admin's door (one second step).
                request.session[MFA_PENDING_KEY] = {"uid": user.pk, "at": time.time()}
                target = _redirect_target(request)
                return redirect(f"{reverse('admin:login')}?{urlencode({'next': target})}")
            auth_login(request, user, backend=MODEL_BACKEND)
            messages.success(request, "You are logged in.")
            return redirect(_redirect_target(request))
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": request.GET.get("next", "")},
        status=status,
    )


@require_POST
def logout_view(request):
    auth_logout(request)
    messages.info(request, "You are logged out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


def register_view(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_register(
                email=data["email"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                client=_client(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Check your inbox for a link to confirm your email address.")
            return redirect("accounts:login")
    return _form_page(request, form, title="Create an account", submit="Register")


def verify_view(request, token):
    """Confirm an email address; the link opens a page whose button confirms it."""
    if request.method == "POST":
        try:
            services.email_verify(token=token, client=_client(request))
        except InvalidToken as exc:
            messages.error(request, str(exc))
            return redirect("accounts:verify_resend")
        messages.success(request, "Your email address is confirmed.")
        return redirect("accounts:account" if request.user.is_authenticated else "accounts:login")
    return render(request, "accounts/verify.html", {"token": token})


def verify_resend_view(request):
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.verification_resend(email=form.cleaned_data["email"], client=_client(request))
        messages.success(request, "If that account needs confirming, a new link is on its way.")
        return redirect("accounts:login")
    return _form_page(
        request,
        form,
        title="Send the confirmation link again",
        submit="Send link",
        intro="Enter the email address you registered with.",
    )


def _current_session_id(request) -> str:
    return request.session.get(WEB_SESSION_KEY, "")


@login_required
def account_view(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.user_profile_update(user=request.user, **form.cleaned_data)
        messages.success(request, "Your details are saved.")
        return redirect("accounts:account")
    sessions = selectors.session_list_active(user=request.user)
    return render(
        request,
        "accounts/account.html",
        {"form": form, "sessions": sessions, "current_session_id": _current_session_id(request)},
    )


@login_required
@require_POST
def session_end_view(request, session_id):
    try:
        services.session_end_for_user(
            user=request.user, session_id=uuid.UUID(str(session_id)), client=_client(request)
        )
    except (SessionNotFound, ValueError):
        messages.error(request, "That session has already ended.")
        return redirect("accounts:account")
    if str(session_id) == _current_session_id(request):
        auth_logout(request)
        messages.info(request, "You ended this session and are logged out.")
        return redirect("accounts:login")
    messages.success(request, "The session has ended.")
    return redirect("accounts:account")


@login_required
@require_POST
def sessions_end_all_view(request):
    services.logout_all(user=request.user, client=_client(request))
    auth_logout(request)
    messages.info(request, "You are logged out on every device.")
    return redirect("accounts:login")


@login_required
def password_change_view(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
                keep_session_id=_current_session_id(request) or None,
                client=_client(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except TooManyAttempts as exc:
            minutes = math.ceil(exc.retry_after / 60)
            form.add_error(None, f"Too many wrong passwords. Try again in {minutes} minute(s).")
            return _form_page(
                request, form, title="Change your password", submit="Change password", status=429
            )
        else:
            update_session_auth_hash(request, user)
            messages.success(
                request, "Your password is changed; your other devices are logged out."
            )
            return redirect("accounts:account")
    return _form_page(request, form, title="Change your password", submit="Change password")


def password_reset_view(request):
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_request(email=form.cleaned_data["email"], client=_client(request))
        messages.success(request, "If an account uses that email, a reset link is on its way.")
        return redirect("accounts:login")
    return _form_page(
        request,
        form,
        title="Reset your password",
        submit="Send reset link",
        intro="We will email you a link to choose a new password.",
    )


def password_reset_confirm_view(request, uidb64, token):
    if services.password_reset_user(uidb64=uidb64, token=token) is None:
        messages.error(request, str(InvalidToken()))
        return redirect("accounts:password_reset")
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_confirm(
                uidb64=uidb64,
                token=token,
                new_password=form.cleaned_data["new_password"],
                client=_client(request),
            )
        except InvalidToken as exc:
            messages.error(request, str(exc))
            return redirect("accounts:password_reset")
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if request.user.is_authenticated:
                auth_logout(request)
            messages.success(request, "Your password is set; log in with it on every device.")
            return redirect(reverse("accounts:login"))
    return _form_page(request, form, title="Choose a new password", submit="Set password")

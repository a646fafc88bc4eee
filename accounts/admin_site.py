"""The admin site: one guarded door, the same as the API's and the shop's.

- Sign-in goes through `services.login_credentials_check` (per-email lockout, auth log)
  behind the API's per-address "login" throttle (AdminLoginForm).
- Staff who need a second factor (enrolled, or STAFF_2FA_REQUIRED) give a code before the
  Django session is opened; one who must but has no device enrols right there (QR code,
  recovery codes). Someone signed in on the shop's pages without the second factor is
  asked for it before the admin opens (`has_permission`).
- The index shows the staff member's own recent sign-ins; `2fa/` manages their devices.
"""

import time

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import login as auth_login
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from . import selectors
from .client import client_from_request
from .errors import MFACodeInvalid, TooManyAttempts
from .forms import AdminLoginForm, MFACodeForm
from .services import mfa
from .services.lockout import lockout_clear

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
MFA_PENDING_KEY = "accounts_mfa_pending"  # {"uid", "at"}: password right, code to come
MFA_VERIFIED_KEY = "accounts_mfa_verified"  # the user id whose second factor was checked
LOGIN_VIA_ATTR = "accounts_login_via"  # read by the user_logged_in receiver (auth log)


def mfa_verified(request) -> bool:
    user = request.user
    return request.session.get(MFA_VERIFIED_KEY) == user.pk


class ShopAdminSite(admin.AdminSite):
    site_header = "Shop administration"
    site_title = "Shop admin"
    login_form = AdminLoginForm
    index_template = "accounts/admin/index.html"
    # The app list beside every page takes 300 px of a 1366 px laptop screen from the lists
    # (their right-hand columns were cut off); the home page and the breadcrumbs lead there.
    enable_nav_sidebar = False

    # --------------------------------------------------------------------------
    def has_permission(self, request):
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return mfa_verified(request) or not mfa.mfa_required(user)

    def each_context(self, request):
        context = super().each_context(request)
        context["mfa_url"] = reverse("admin:accounts_mfa", current_app=self.name)
        return context

    def get_urls(self):
        return [
            path("2fa/", self.admin_view(self.mfa_view), name="accounts_mfa"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        extra = {
            "recent_sign_ins": selectors.sign_in_events_for(user=request.user)[:10],
            **(extra_context or {}),
        }
        return super().index(request, extra_context=extra)

    # --------------------------------------------------------------------------
    # Sign-in
    # --------------------------------------------------------------------------
    def _next_url(self, request) -> str:
        target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME)
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return reverse("admin:index", current_app=self.name)

    def _context(self, request, **extra):
        return {
            **self.each_context(request),
            "app_path": request.get_full_path(),
            "next": self._next_url(request),
            "username": request.user.get_username(),
            **extra,
        }

    def _pending_user(self, request):
        pending = request.session.get(MFA_PENDING_KEY)
        if not isinstance(pending, dict):
            return None
        if time.time() - float(pending.get("at", 0)) > settings.MFA_CHALLENGE_TTL:
            request.session.pop(MFA_PENDING_KEY, None)
            return None
        from .models import User

        return User.objects.filter(pk=pending.get("uid"), is_active=True, is_staff=True).first()

    @method_decorator(csrf_protect)
    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        next_url = self._next_url(request)
        user = request.user
        if request.GET.get("restart"):
            request.session.pop(MFA_PENDING_KEY, None)
        if user.is_authenticated and user.is_active and user.is_staff:
            if self.has_permission(request):
                return HttpResponseRedirect(next_url)
            # Signed in (on the shop's pages) without the second factor: ask for it now.
            return self._second_step(request, user, next_url, signed_in=True)
        pending = self._pending_user(request)
        if pending is not None and (request.method == "GET" or "step" in request.POST):
            return self._second_step(request, pending, next_url, signed_in=False)
        form = self.login_form(request, data=request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            user = form.get_user()
            if mfa.mfa_required(user):
                request.session[MFA_PENDING_KEY] = {"uid": user.pk, "at": time.time()}
                return self._second_step(request, user, next_url, signed_in=False, fresh=True)
            self._sign_in(request, user, via="admin")
            return HttpResponseRedirect(next_url)
        context = self._context(request, form=form, title="Log in", **(extra_context or {}))
        status = 429 if any(e.code == "throttled" for e in form.non_field_errors().data) else 200
        return TemplateResponse(request, "admin/login.html", context, status=status)

    def _sign_in(self, request, user, *, via: str, method: str = "") -> None:
        setattr(request, LOGIN_VIA_ATTR, {"via": via, **({"mfa": method} if method else {})})
        auth_login(request, user, backend=MODEL_BACKEND)
        request.session.pop(MFA_PENDING_KEY, None)
        if method:
            request.session[MFA_VERIFIED_KEY] = user.pk
            lockout_clear(email=user.email)

    def _second_step(self, request, user, next_url, *, signed_in: bool, fresh: bool = False):
        client = client_from_request(request)
        posted = request.method == "POST" and not fresh and "step" in request.POST
        form = MFACodeForm(request.POST if posted else None)
        if not mfa.mfa_enrolled(user):
            return self._enrol_step(request, user, next_url, form, signed_in=signed_in)
        status = 200
        if posted and form.is_valid():
            try:
                method = mfa.mfa_check(
                    user=user, code=form.cleaned_data["code"], client=client, via="admin"
                )
            except MFACodeInvalid as exc:
                form.add_error("code", str(exc))
                status = 401
            except TooManyAttempts as exc:
                form.add_error(
                    None, f"Too many failed attempts. Try again in {exc.retry_after} second(s)."
                )
                status = 429
            else:
                self._verified(request, user, signed_in=signed_in, method=method)
                return HttpResponseRedirect(next_url)
        context = self._context(request, form=form, title="Two-factor authentication")
        return TemplateResponse(request, "accounts/admin/login_2fa.html", context, status=status)

    def _verified(self, request, user, *, signed_in: bool, method: str) -> None:
        if signed_in:  # step-up of a session opened on the shop's pages
            from .models import AuthEvent
            from .services.events import event

            request.session[MFA_VERIFIED_KEY] = user.pk
            lockout_clear(email=user.email)
            event(
                AuthEvent.Kind.LOGIN,
                client=client_from_request(request),
                user=user,
                via="admin",
                mfa=method,
                step_up=True,
            )
        else:
            self._sign_in(request, user, via="admin", method=method)

    def _enrol_step(self, request, user, next_url, form, *, signed_in: bool):
        """Staff who must use a second factor and have none set it up before going in."""
        device = mfa.totp_enrolment_start(user=user)
        status = 200
        if form.is_bound and form.is_valid():
            try:
                codes = mfa.totp_enrolment_confirm(
                    user=user, code=form.cleaned_data["code"], client=client_from_request(request)
                )
            except MFACodeInvalid as exc:
                form.add_error("code", str(exc))
                status = 401
            else:
                self._verified(request, user, signed_in=signed_in, method="totp_enrolment")
                context = self._context(
                    request, title="Your recovery codes", codes=codes, continue_url=next_url
                )
                return TemplateResponse(request, "accounts/admin/recovery_codes.html", context)
        context = self._context(
            request,
            form=form,
            title="Set up two-factor authentication",
            qr_svg=mark_safe(mfa.totp_qr_svg(device=device)),  # noqa: S308 - made here
            secret=mfa.totp_secret(device=device),
        )
        return TemplateResponse(request, "accounts/admin/mfa_enrol.html", context, status=status)

    # --------------------------------------------------------------------------
    # The staff member's own devices
    # --------------------------------------------------------------------------
    def mfa_view(self, request):
        user = request.user
        client = client_from_request(request)
        action = request.POST.get("action") if request.method == "POST" else None
        form = MFACodeForm(request.POST if action == "enrol" else None)
        if action == "recovery_codes" and mfa.mfa_enrolled(user):
            codes = mfa.recovery_codes_regenerate(user=user, client=client)
            context = self._context(
                request,
                title="Your new recovery codes",
                codes=codes,
                continue_url=reverse("admin:accounts_mfa", current_app=self.name),
            )
            return TemplateResponse(request, "accounts/admin/recovery_codes.html", context)
        enrolled = mfa.mfa_enrolled(user)
        context = {"title": "Two-factor authentication", "enrolled": enrolled}
        if action == "enrol" and not enrolled and form.is_valid():
            try:
                codes = mfa.totp_enrolment_confirm(
                    user=user, code=form.cleaned_data["code"], client=client
                )
            except MFACodeInvalid as exc:
                form.add_error("code", str(exc))
            else:
                request.session[MFA_VERIFIED_KEY] = user.pk
                messages.success(request, "Two-factor authentication is on.")
                context = self._context(
                    request,
                    title="Your recovery codes",
                    codes=codes,
                    continue_url=reverse("admin:accounts_mfa", current_app=self.name),
                )
                return TemplateResponse(request, "accounts/admin/recovery_codes.html", context)
        if enrolled:
            context["recovery_codes_left"] = mfa.recovery_codes_left(user=user)
        else:
            device = mfa.totp_enrolment_start(user=user)
            context["qr_svg"] = mark_safe(mfa.totp_qr_svg(device=device))  # noqa: S308
            context["secret"] = mfa.totp_secret(device=device)
            context["form"] = form
        context["recent_sign_ins"] = selectors.sign_in_events_for(user=user)[:20]
        return TemplateResponse(
            request, "accounts/admin/mfa.html", {**self.each_context(request), **context}
        )

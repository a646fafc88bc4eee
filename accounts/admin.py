from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.contrib.auth.forms import UserCreationForm as BaseUserCreationForm
from django.utils import timezone

from . import services
from .client import client_from_request
from .models import AuthEvent, Session, User


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeForm(BaseUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class SessionInlineForm(forms.ModelForm):
    revoke = forms.BooleanField(required=False, label="Revoke")

    class Meta:
        model = Session
        fields = ()


class SessionInline(admin.TabularInline):
    """The user's active sessions; tick "Revoke" and save to end one."""

    model = Session
    form = SessionInlineForm
    fields = (
        "kind",
        "device_name",
        "platform",
        "ip_address",
        "created_at",
        "last_seen_at",
        "revoke",
    )
    readonly_fields = (
        "kind",
        "device_name",
        "platform",
        "ip_address",
        "created_at",
        "last_seen_at",
    )
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "active sessions"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(revoked_at__isnull=True)


STAFF_RIGHT_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = UserCreationForm
    form = UserChangeForm
    ordering = ("-date_joined",)
    list_display = ("email", "first_name", "last_name", "email_verified", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "email_verified")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("date_joined", "last_login", "two_factor")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email_verified")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
        ("Security", {"fields": ("two_factor",)}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = (SessionInline,)
    actions = ("deactivate", "revoke_sessions", "mfa_reset")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_readonly_fields(self, request, obj=None):
        """Only superusers grant rights: others cannot make anyone staff or hand out groups."""
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return (*fields, *STAFF_RIGHT_FIELDS)

    def has_change_permission(self, request, obj=None):
        """Staff accounts (their password, their sessions) are changed by superusers only."""
        if obj is not None and obj.is_staff and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_revoke_permission(self, request):
        return request.user.has_perm("accounts.revoke_session")

    @admin.display(description="two-factor authentication")
    def two_factor(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        if services.mfa_enrolled(obj):
            return "on (a superuser can reset it with the action on the user list)"
        return "required, not set up yet" if services.mfa_required(obj) else "off"

    def has_mfa_reset_permission(self, request):
        return request.user.is_superuser

    @admin.action(
        description="Reset two-factor authentication (lost device)", permissions=("mfa_reset",)
    )
    def mfa_reset(self, request, queryset):
        client = client_from_request(request)
        count = 0
        for user in queryset:
            services.mfa_reset(user=user, actor=request.user, client=client)
            count += 1
        self.message_user(
            request, f"Two-factor authentication reset for {count} user(s); they enrol again."
        )

    def save_model(self, request, obj, form, change):
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivated:
            count = services.user_deactivate(user=obj, actor=request.user)
            self.message_user(request, f"{obj} is deactivated; {count} session(s) ended.")

    def save_formset(self, request, form, formset, change):
        if formset.model is not Session:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)  # nothing to write; sets what the change message reads
        if not self.has_revoke_permission(request):
            return
        ended = 0
        for inline_form in formset.forms:
            if inline_form.cleaned_data.get("revoke") and inline_form.instance.pk:
                ended += services.session_revoke(
                    session_id=inline_form.instance.pk, reason="staff", actor=request.user
                )
        if ended:
            self.message_user(request, f"{ended} session(s) ended.")

    @admin.action(
        description="Deactivate selected users (ends their sessions)", permissions=("change",)
    )
    def deactivate(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(is_staff=False)
        count = 0
        for user in queryset:
            services.user_deactivate(user=user, actor=request.user)
            count += 1
        self.message_user(request, f"{count} user(s) deactivated.")

    @admin.action(description="End every session of the selected users", permissions=("revoke",))
    def revoke_sessions(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(is_staff=False)
        ended = sum(
            services.sessions_revoke_for_user(user=user, reason="staff", actor=request.user)
            for user in queryset
        )
        self.message_user(request, f"{ended} session(s) ended.")


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", "Active"), ("revoked", "Revoked"))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit records: staff look, and act only through actions (sessions are revoked, not
    deleted: deleting a row would not end its cached session)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    list_display = ("user", "device", "ip_address", "created_at", "last_seen_at", "state")
    list_filter = (ActiveFilter, "kind", "revoke_reason", "created_at")
    search_fields = ("user__email", "device_name", "ip_address")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    actions = ("revoke",)
    readonly_fields = [f.name for f in Session._meta.fields]

    @admin.display(description="Device", ordering="device_name")
    def device(self, session):
        parts = (session.device_name, session.platform)
        return " · ".join(p for p in parts if p) or session.get_kind_display()

    @admin.display(description="State", ordering="revoked_at")
    def state(self, session):
        """Active until; or revoked (with why); or expired."""
        if session.revoked_at:
            return f"revoked {session.revoked_at:%Y-%m-%d %H:%M} ({session.revoke_reason})"
        if session.expires_at <= timezone.now():
            return "expired"
        return f"active until {session.expires_at:%Y-%m-%d}"

    def has_revoke_permission(self, request):
        return request.user.has_perm("accounts.revoke_session")

    @admin.action(description="Revoke selected sessions", permissions=("revoke",))
    def revoke(self, request, queryset):
        if not request.user.is_superuser:  # staff sessions are ended by superusers
            queryset = queryset.filter(user__is_staff=False)
        ended = sum(
            services.session_revoke(session_id=pk, reason="staff", actor=request.user)
            for pk in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True)
        )
        self.message_user(request, f"{ended} session(s) revoked.")


@admin.register(AuthEvent)
class AuthEventAdmin(ReadOnlyAdmin):
    """The audit log: read-only."""

    list_display = ("at", "kind", "email", "ip_address", "session")
    list_filter = ("kind", "at")
    search_fields = ("email", "user__email", "ip_address")
    list_select_related = ("user", "session")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuthEvent._meta.fields]

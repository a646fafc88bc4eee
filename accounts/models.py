import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone


def email_normalize(email: str) -> str:
    """Return the canonical form of an email address: trimmed and lower-cased."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=email_normalize(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("email_verified", True)
        if extra_fields.get("is_staff") is not True or extra_fields.get("is_superuser") is not True:
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=email_normalize(username))


class User(AbstractBaseUser, PermissionsMixin):
    """A shopper or a staff member; the email address is the login."""

    email = models.EmailField("email address", max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Designates whether the user can log into the admin site."
    )
    is_active = models.BooleanField(
        default=True,
        help_text="Unselect this instead of deleting accounts; it ends every session at once.",
    )
    email_verified = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    email_skeleton = models.CharField(
        max_length=1024,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="UTS #39 skeleton of the email (accounts.confusables): two addresses that "
        "look the same cannot both be used.",
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = email_normalize(self.email)

    def save(self, *args, **kwargs):
        from .confusables import email_skeleton

        self.email_skeleton = email_skeleton(self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_skeleton"}
        super().save(*args, **kwargs)

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self):
        return self.first_name or self.email


class Session(models.Model):
    """One login on one device (an API client or a web browser); revoked, it ends at once."""

    class Kind(models.TextChoices):
        API = "api", "API"
        WEB = "web", "Web"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.API)
    device_name = models.CharField(max_length=120, blank=True)
    platform = models.CharField(max_length=60, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(help_text="Absolute end of the session, whatever happens.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ("-created_at",)
        permissions = [("revoke_session", "Can revoke another person's session")]
        indexes = [
            # Active sessions of a user, newest first (sessions list, revoke all).
            models.Index(
                fields=["user", "-created_at"],
                condition=Q(revoked_at__isnull=True),
                name="accounts_session_user_active",
            ),
            # Purge: sessions past their end or revoked long ago.
            models.Index(fields=["expires_at"], name="accounts_session_expires"),
            models.Index(fields=["revoked_at"], name="accounts_session_revoked"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="accounts_session_expires_after_created",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoke_reason=""),
                name="accounts_session_revoked_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.device_name or self.get_kind_display()} · {str(self.pk)[:8]}"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class RefreshToken(models.Model):
    """One issued refresh token; spent once, it points at the token that replaced it."""

    jti = models.CharField(max_length=64, unique=True)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="refresh_tokens")
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces"
    )

    class Meta:
        ordering = ("-issued_at",)
        indexes = [
            models.Index(fields=["session", "-issued_at"], name="accounts_refresh_session"),
            models.Index(fields=["expires_at"], name="accounts_refresh_expires"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("issued_at")),
                name="accounts_refresh_expires_after_issued",
            ),
            # A token is replaced only when it is spent.
            models.CheckConstraint(
                condition=Q(replaced_by__isnull=True) | Q(used_at__isnull=False),
                name="accounts_refresh_replaced_only_when_used",
            ),
        ]

    def __str__(self):
        return self.jti


class AuthEvent(models.Model):
    """Append-only audit log of authentication operations."""

    class Kind(models.TextChoices):
        REGISTER = "register", "Registered"
        REGISTER_EXISTING = "register_existing", "Registration with a taken email"
        EMAIL_VERIFIED = "email_verified", "Email verified"
        VERIFICATION_SENT = "verification_sent", "Verification email sent"
        LOGIN = "login", "Login"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGIN_LOCKED = "login_locked", "Login refused: locked out"
        LOGIN_UNVERIFIED = "login_unverified", "Login refused: email not verified"
        REFRESH = "refresh", "Token refreshed"
        REFRESH_ROTATED = "refresh_rotated", "Previous refresh token in grace window"
        REFRESH_REUSE = "refresh_reuse", "Refresh token reused: session revoked"
        LOGOUT = "logout", "Logout"
        LOGOUT_ALL = "logout_all", "Logout everywhere"
        SESSION_REVOKED = "session_revoked", "Session revoked"
        PASSWORD_CHANGE = "password_change", "Password changed"
        PASSWORD_RESET_REQUEST = "password_reset_request", "Password reset requested"
        PASSWORD_RESET = "password_reset", "Password reset"
        USER_DEACTIVATED = "user_deactivated", "User deactivated"
        MFA_FAILED = "mfa_failed", "Second factor refused"
        MFA_ENROLLED = "mfa_enrolled", "Two-factor authentication set up"
        MFA_RECOVERY_CODES = "mfa_recovery_codes", "Recovery codes replaced"
        MFA_RESET = "mfa_reset", "Two-factor authentication reset by a superuser"
        MAIL_CAPPED = "mail_capped", "Mail not sent: hourly cap for this address"

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="auth_events"
    )
    email = models.CharField(max_length=254, blank=True, help_text="The email as attempted.")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    at = models.DateTimeField(default=timezone.now)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-at", "-id")
        indexes = [
            models.Index(fields=["user", "-at"], name="accounts_event_user"),
            models.Index(fields=["email", "-at"], name="accounts_event_email"),
            models.Index(fields=["kind", "-at"], name="accounts_event_kind"),
        ]

    def __str__(self):
        return f"{self.kind} {self.email or self.user_id} {self.at:%Y-%m-%d %H:%M:%S}"

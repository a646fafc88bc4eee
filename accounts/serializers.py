from django.utils import timezone
from rest_framework import serializers

from .models import Session


class UserSerializer(serializers.Serializer):
    """The user as `me` shows it; only the names are writable.

    A plain Serializer rather than a ModelSerializer: it runs on every `me` request and
    building model fields by introspection each time costs more than the authentication.
    """

    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email_verified = serializers.BooleanField(read_only=True)
    is_staff = serializers.BooleanField(read_only=True)
    date_joined = serializers.DateTimeField(read_only=True)


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1024)


class EmailSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    device_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    platform = serializers.CharField(max_length=60, required=False, allow_blank=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    session_id = serializers.UUIDField()
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()
    expires_in = serializers.SerializerMethodField(
        help_text="Seconds until the access token expires (RFC 6749); refresh before then. "
        "Relative, so a device with a wrong clock still refreshes on time."
    )
    refresh_expires_in = serializers.SerializerMethodField(
        help_text="Seconds until the refresh token expires; log in again after."
    )
    user = UserSerializer()

    def get_expires_in(self, pair) -> int:
        return _seconds_until(pair.access_expires_at)

    def get_refresh_expires_in(self, pair) -> int:
        return _seconds_until(pair.refresh_expires_at)


def _seconds_until(moment) -> int:
    return max(0, int((moment - timezone.now()).total_seconds()))


class MFAChallengeSerializer(serializers.Serializer):
    """Answer of a staff login that needs the second factor (POST auth/login/2fa/)."""

    mfa_required = serializers.BooleanField()
    challenge = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the challenge stays valid.")


class LoginSecondFactorSerializer(serializers.Serializer):
    challenge = serializers.CharField(max_length=2048)
    code = serializers.CharField(
        max_length=64, help_text="6 digits from the authenticator app, or a recovery code."
    )


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, required=False)


class SessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = (
            "id",
            "device_name",
            "platform",
            "user_agent",
            "ip_address",
            "created_at",
            "last_seen_at",
            "expires_at",
            "current",
        )

    def get_current(self, session) -> bool:
        return str(session.pk) == str(self.context.get("current_session_id"))


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)

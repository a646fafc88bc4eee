"""Auth and sessions API (see API.md, "Auth and sessions"); thin views over services."""

import uuid

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .api_codes import PasswordResetCodeView, VerifyEmailCodeView
from .client import Client, client_from_request
from .errors import (
    EmailNotVerified,
    InvalidCredentials,
    InvalidToken,
    MFAChallengeInvalid,
    MFACodeInvalid,
    MFASetupRequired,
    SessionNotFound,
    TokenExpired,
    TokenInvalid,
    TokenReused,
    TokenRotated,
    TooManyAttempts,
)
from .openapi import api_errors
from .serializers import (
    DetailSerializer,
    EmailSerializer,
    LoginSecondFactorSerializer,
    LoginSerializer,
    LogoutSerializer,
    MFAChallengeSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    RefreshSerializer,
    RegisterSerializer,
    SessionSerializer,
    TokenPairSerializer,
    TokenSerializer,
    UserSerializer,
)


def _client(request) -> Client:
    return client_from_request(request)


def _current_session_id(request) -> str | None:
    claims = request.auth if isinstance(request.auth, dict) else None
    return claims.get("sid") if claims else None


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AnonymousAPIView(APIView):
    """An endpoint for anyone: a stale Authorization header does not get in the way."""

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)


class RegisterView(AnonymousAPIView):
    throttle_scope = "register"

    @extend_schema(
        summary="Register an account",
        request=RegisterSerializer,
        responses={201: DetailSerializer},
        description="Create an account and mail a verification link. A taken email gets the "
        "same answer (its owner is mailed instead).",
    )
    def post(self, request):
        data = _valid(RegisterSerializer, request)
        services.user_register(**data, client=_client(request))
        return Response(
            {"detail": "Check your inbox for a link to confirm your email address."},
            status=status.HTTP_201_CREATED,
        )


class VerifyEmailView(AnonymousAPIView):
    throttle_scope = "register"

    @extend_schema(
        summary="Confirm an email address",
        request=TokenSerializer,
        responses={200: DetailSerializer, **api_errors(InvalidToken)},
    )
    def post(self, request):
        data = _valid(TokenSerializer, request)
        services.email_verify(token=data["token"], client=_client(request))
        return Response({"detail": "Your email address is confirmed."})


class VerifyEmailResendView(AnonymousAPIView):
    throttle_scope = "register"

    @extend_schema(
        summary="Send the confirmation email again",
        request=EmailSerializer,
        responses={202: DetailSerializer},
    )
    def post(self, request):
        data = _valid(EmailSerializer, request)
        services.verification_resend(email=data["email"], client=_client(request))
        return Response(
            {"detail": "If that account needs confirming, a new link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class LoginView(AnonymousAPIView):
    throttle_scope = "login"

    @extend_schema(
        summary="Log in: get an access and a refresh token",
        request=LoginSerializer,
        responses={
            200: TokenPairSerializer,
            202: OpenApiResponse(
                MFAChallengeSerializer,
                "Staff with two-factor authentication: send a code with the challenge to "
                "auth/login/2fa/ to get the tokens.",
            ),
            **api_errors(InvalidCredentials, EmailNotVerified, MFASetupRequired, TooManyAttempts),
        },
    )
    def post(self, request):
        data = _valid(LoginSerializer, request)
        result = services.login(**data, client=_client(request))
        if isinstance(result, services.MFAChallenge):
            return Response(MFAChallengeSerializer(result).data, status=status.HTTP_202_ACCEPTED)
        return Response(TokenPairSerializer(result).data)


class LoginSecondFactorView(AnonymousAPIView):
    """Second step of a staff login: the challenge and a code give the token pair."""

    throttle_scope = "login"

    @extend_schema(
        summary="Log in, second step (staff with two-factor authentication)",
        request=LoginSecondFactorSerializer,
        responses={
            200: TokenPairSerializer,
            **api_errors(MFACodeInvalid, MFAChallengeInvalid, TooManyAttempts),
        },
    )
    def post(self, request):
        data = _valid(LoginSecondFactorSerializer, request)
        pair = services.login_second_factor(**data, client=_client(request))
        return Response(TokenPairSerializer(pair).data)


class RefreshView(AnonymousAPIView):
    throttle_scope = "refresh"

    @extend_schema(
        summary="Refresh: trade the refresh token for a new pair",
        request=RefreshSerializer,
        responses={
            200: TokenPairSerializer,
            **api_errors(TokenInvalid, TokenExpired, TokenReused, TokenRotated),
        },
        description="The refresh token is good once. Refresh once for many concurrent calls "
        "and retry them with the new access token; see the top of this page.",
    )
    def post(self, request):
        data = _valid(RefreshSerializer, request)
        pair = services.token_refresh(raw=data["refresh"], client=_client(request))
        return Response(TokenPairSerializer(pair).data)


class LogoutView(APIView):
    permission_classes = (permissions.AllowAny,)

    @extend_schema(
        summary="Log out this device",
        request=LogoutSerializer,
        responses={
            204: None,
            **api_errors(TokenInvalid, TokenExpired, exceptions.NotAuthenticated),
        },
        description="With an access token: ends its session. Without one: send the refresh "
        "token to end that token's session.",
    )
    def post(self, request):
        session_id = _current_session_id(request)
        if session_id:
            services.logout(session_id=session_id, client=_client(request))
        else:
            data = _valid(LogoutSerializer, request)
            if data.get("refresh"):
                services.logout_with_refresh(raw=data["refresh"], client=_client(request))
            elif not request.user.is_authenticated:
                raise exceptions.NotAuthenticated()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    @extend_schema(summary="Log out every device", request=None, responses={204: None})
    def post(self, request):
        services.logout_all(user=request.user, client=_client(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionListView(APIView):
    @extend_schema(summary="List my active sessions", responses={200: SessionSerializer(many=True)})
    def get(self, request):
        sessions = selectors.session_list_active(user=request.user)
        serializer = SessionSerializer(
            sessions, many=True, context={"current_session_id": _current_session_id(request)}
        )
        return Response(serializer.data)


class SessionDetailView(APIView):
    @extend_schema(
        summary="End one of my sessions", responses={204: None, **api_errors(SessionNotFound)}
    )
    def delete(self, request, session_id: str):
        try:
            session_uuid = uuid.UUID(session_id)
        except ValueError as exc:
            raise SessionNotFound() from exc
        services.session_end_for_user(
            user=request.user, session_id=session_uuid, client=_client(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(summary="Get my account", responses={200: UserSerializer})
    def get(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        summary="Update my name", request=UserSerializer, responses={200: UserSerializer}
    )
    def patch(self, request):
        serializer = UserSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_profile_update(user=request.user, **serializer.validated_data)
        return Response(UserSerializer(user).data)


class PasswordChangeView(APIView):
    @extend_schema(
        summary="Change my password (ends my other sessions)",
        description="A wrong `old_password` counts toward the email's lockout like a wrong "
        "password at login; once locked, the answer is 429 `too_many_attempts`.",
        request=PasswordChangeSerializer,
        responses={204: None, **api_errors(TooManyAttempts)},
    )
    def post(self, request):
        data = _valid(PasswordChangeSerializer, request)
        services.password_change(
            user=request.user,
            old_password=data["old_password"],
            new_password=data["new_password"],
            keep_session_id=_current_session_id(request),
            client=_client(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(AnonymousAPIView):
    throttle_scope = "password_reset"

    @extend_schema(
        summary="Ask for a password reset email",
        request=EmailSerializer,
        responses={202: DetailSerializer},
    )
    def post(self, request):
        data = _valid(EmailSerializer, request)
        services.password_reset_request(email=data["email"], client=_client(request))
        return Response(
            {"detail": "If an account uses that email, a reset link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmView(AnonymousAPIView):
    throttle_scope = "password_reset"

    @extend_schema(
        summary="Set a new password with the emailed token",
        request=PasswordResetConfirmSerializer,
        responses={204: None, **api_errors(InvalidToken)},
    )
    def post(self, request):
        data = _valid(PasswordResetConfirmSerializer, request)
        services.password_reset_confirm(
            uidb64=data["uid"],
            token=data["token"],
            new_password=data["new_password"],
            client=_client(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("auth/register/", RegisterView.as_view(), name="auth-register"),
    path("auth/verify-email/", VerifyEmailView.as_view(), name="auth-verify-email"),
    path(
        "auth/verify-email/resend/",
        VerifyEmailResendView.as_view(),
        name="auth-verify-email-resend",
    ),
    path("auth/verify-email/code/", VerifyEmailCodeView.as_view(), name="auth-verify-email-code"),
    path(
        "auth/password/reset/code/",
        PasswordResetCodeView.as_view(),
        name="auth-password-reset-code",
    ),
    path("auth/login/", LoginView.as_view(), name="auth-login"),
    path("auth/login/2fa/", LoginSecondFactorView.as_view(), name="auth-login-2fa"),
    path("auth/refresh/", RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/sessions/", SessionListView.as_view(), name="auth-sessions"),
    path("auth/sessions/<str:session_id>/", SessionDetailView.as_view(), name="auth-session"),
    path("auth/me/", MeView.as_view(), name="auth-me"),
    path("auth/password/change/", PasswordChangeView.as_view(), name="auth-password-change"),
    path("auth/password/reset/", PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm/",
        PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
]

"""The 6-digit code alternative to emailed links, for apps that cannot open them."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .client import client_from_request
from .code_flows import email_verify_with_code, password_reset_with_code
from .errors import InvalidCode, TooManyAttempts
from .openapi import api_errors
from .serializers import DetailSerializer


class EmailCodeSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    code = serializers.RegexField(
        r"^\d{6}$", help_text="The 6 digits from the email.", max_length=6, min_length=6
    )


class PasswordResetCodeSerializer(EmailCodeSerializer):
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class _CodeView(APIView):
    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)

    def _valid(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class VerifyEmailCodeView(_CodeView):
    throttle_scope = "register"

    @extend_schema(
        summary="Confirm an email address with the emailed code",
        request=EmailCodeSerializer,
        responses={200: DetailSerializer, **api_errors(InvalidCode, TooManyAttempts)},
        description="For apps: the verification email carries a 6-digit code beside its "
        "link. It works once, for a few minutes, a few tries; wrong codes count towards "
        "the login lockout of the email.",
    )
    def post(self, request):
        data = self._valid(EmailCodeSerializer)
        email_verify_with_code(
            email=data["email"], code=data["code"], client=client_from_request(request)
        )
        return Response({"detail": "Your email address is confirmed."})


class PasswordResetCodeView(_CodeView):
    throttle_scope = "password_reset"

    @extend_schema(
        summary="Set a new password with the emailed code",
        request=PasswordResetCodeSerializer,
        responses={204: None, **api_errors(InvalidCode, TooManyAttempts)},
        description="For apps: the reset email carries a 6-digit code beside its link. Every "
        "session of the account ends, as with the link.",
    )
    def post(self, request):
        data = self._valid(PasswordResetCodeSerializer)
        password_reset_with_code(
            email=data["email"],
            code=data["code"],
            new_password=data["new_password"],
            client=client_from_request(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

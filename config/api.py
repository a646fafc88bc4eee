"""API plumbing shared by every app: the error shape, pagination and schema hooks.

Domain exceptions raised by services follow one protocol instead of a shared base class
(apps may not import each other upwards): they carry `code` (a machine code),
`http_status` (how the API answers) and, optionally, `payload()` returning extra fields
for the body (for example the short `lines` of an insufficient-stock error), and
`headers()` returning response headers. Their message is `str(exc)`. Page views catch the
same exceptions and show the message.

The body is `{"detail", "code"}`; a 400 `invalid` adds `fields`: `{"<dotted path>":
[{"message", "code"}]}` (see accounts/openapi.py for how operations document their codes).

Why our handler and not drf-standardized-errors: that library answers
`{"type", "errors": [{"code", "detail", "attr"}]}`, which would change the top-level
`{"detail", "code"}` every client and page already reads; its schema class documents DRF's
own errors (well: per-field codes included) but knows nothing of our domain errors (`code`,
`http_status`), so every 409 and 422 would still be declared by hand in its format; and it
would replace the schema class we extend (config/schema.py). What we needed from it, field
errors with codes under one key, is the ~20 lines of `_flatten_field_errors`.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.openapi import COMPONENTS, SHARED_RESPONSES

logger = logging.getLogger(__name__)


def is_domain_error(exc: BaseException) -> bool:
    """Return True if the exception follows the domain-error protocol."""
    return isinstance(getattr(exc, "code", None), str) and isinstance(
        getattr(exc, "http_status", None), int
    )


def _flatten_field_errors(data, prefix: str = "") -> dict[str, list[dict]]:
    """Return DRF's nested field errors as `{"a.b.0.c": [{"message", "code"}]}`."""
    flat: dict[str, list[dict]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            flat.update(_flatten_field_errors(value, f"{prefix}{key}."))
    elif isinstance(data, list) and data and all(isinstance(v, str) for v in data):
        flat[prefix.rstrip(".") or "non_field_errors"] = [
            {"message": str(v), "code": str(getattr(v, "code", None) or "invalid")} for v in data
        ]
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if value:  # an empty dict or list: that item of a list had no errors
                flat.update(_flatten_field_errors(value, f"{prefix}{index}."))
    else:
        flat[prefix.rstrip(".") or "non_field_errors"] = [
            {"message": str(data), "code": str(getattr(data, "code", None) or "invalid")}
        ]
    return flat


# Access-token failures answer RFC 6750's error="invalid_token" (a missing token answers none).
INVALID_TOKEN_CODES = ("token_invalid", "token_expired")


def _www_authenticate(detail: str) -> str:
    description = detail.replace('"', "'")
    return f'Bearer realm="api", error="invalid_token", error_description="{description}"'


def exception_handler(exc, context):
    """Turn every handled error into `{"detail", "code"}`, field errors under `fields`."""
    if is_domain_error(exc):
        body = {"detail": str(exc) or exc.code.replace("_", " "), "code": exc.code}
        payload = getattr(exc, "payload", None)
        if callable(payload):
            body.update(payload())
        headers = getattr(exc, "headers", None)
        headers = dict(headers()) if callable(headers) else {}
        if exc.code in INVALID_TOKEN_CODES:
            headers["WWW-Authenticate"] = _www_authenticate(body["detail"])
        return Response(body, status=exc.http_status, headers=headers or None)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request body is too large.", "code": "request_too_large"},
            status=413,
        )
    if isinstance(exc, SuspiciousOperation):  # too many fields, a malformed multipart body
        logger.warning("Refused a crafted API request: %s", exc)
        return Response({"detail": "Malformed request.", "code": "bad_request"}, status=400)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": "Invalid input.",
            "code": "invalid",
            "fields": _flatten_field_errors(exc.detail),
        }
        return response
    data = response.data if isinstance(response.data, dict) else {"detail": response.data}
    detail = data.get("detail", "")
    code = str(data.get("code") or getattr(detail, "code", None) or exc.default_code)
    response.data = {"detail": str(detail), "code": code}
    if response.status_code == 401 and code in INVALID_TOKEN_CODES:
        response["WWW-Authenticate"] = _www_authenticate(str(detail))
    return response


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Answer unknown paths under /api/ in the API's JSON error shape, not an HTML page."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["required"] = ["count", "next", "previous", "results"]
        return response


def add_error_components(result, generator, request, public):
    """Add the shared error schemas, and the errors every operation can answer (500, 503)."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(COMPONENTS)
    responses = components.setdefault("responses", {})
    for name, response in SHARED_RESPONSES.values():
        responses[name] = response
    for item in result.get("paths", {}).values():
        for operation in item.values():
            answers = operation["responses"]
            for status, (name, _response) in SHARED_RESPONSES.items():
                answers.setdefault(status, {"$ref": f"#/components/responses/{name}"})
            operation["responses"] = dict(sorted(answers.items()))
    return result

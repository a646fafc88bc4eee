"""API plumbing shared by every app: the error shape, pagination and schema hooks.

Domain exceptions raised by services follow one protocol instead of a shared base class
(apps may not import each other upwards): they carry `code` (a machine code),
`http_status` (how the API answers) and, optionally, `payload()` returning extra fields
for the body (for example the short `lines` of an insufficient-stock error). Their
message is `str(exc)`. Page views catch the same exceptions and show the message.
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

logger = logging.getLogger(__name__)


def is_domain_error(exc: BaseException) -> bool:
    """Return True if the exception follows the domain-error protocol."""
    return isinstance(getattr(exc, "code", None), str) and isinstance(
        getattr(exc, "http_status", None), int
    )


def exception_handler(exc, context):
    """Turn every handled error into `{"detail", "code"}` (plus field errors on 400)."""
    if is_domain_error(exc):
        body = {"detail": str(exc) or exc.code.replace("_", " "), "code": exc.code}
        payload = getattr(exc, "payload", None)
        if callable(payload):
            body.update(payload())
        headers = getattr(exc, "headers", None)
        return Response(
            body, status=exc.http_status, headers=headers() if callable(headers) else None
        )
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
        data = response.data
        if not isinstance(data, dict):
            data = {"non_field_errors": data}
        response.data = {"detail": "Invalid input.", "code": "invalid", **data}
        return response
    data = response.data if isinstance(response.data, dict) else {"detail": response.data}
    detail = data.get("detail", "")
    code = data.get("code") or getattr(detail, "code", None) or exc.default_code
    response.data = {"detail": str(detail), "code": str(code)}
    return response


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Answer unknown paths under /api/ in the API's JSON error shape, not an HTML page."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "required": ["detail", "code"],
    "additionalProperties": True,
}
_STANDARD_ERRORS = {
    "400": "Invalid input; field errors are listed under each field's name.",
    "401": "Missing, invalid or revoked credentials.",
    "403": "Not allowed for this user.",
    "404": "Not found.",
    "429": "Too many requests; see Retry-After.",
}
# Only operations that take a body can meet these.
_BODY_ERRORS = {
    "413": "The request body is too large (`request_too_large`).",
    "415": "Unsupported media type (`unsupported_media_type`).",
}


def add_error_responses(result, generator, request, public):
    """Document the shared error shape on every operation (drf-spectacular postprocessing hook)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(_STANDARD_ERRORS)
            if "requestBody" in operation:
                errors.update(_BODY_ERRORS)
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result

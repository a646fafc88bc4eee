"""How every app's API documents the errors an operation can answer (OpenAPI, drf-spectacular).

The error body is one shape for the whole API (made by `config.api.exception_handler`):

    {"detail": "<message for people>", "code": "<machine code>",
     "fields": {"<field path>": [{"message": "...", "code": "<field error code>"}]}}

`fields` is there only on 400 `invalid`. An operation lists, per status, the codes it can
answer; the schema publishes them as an enum on `code`:

    @extend_schema(
        summary="Check out the cart",
        request=CheckoutSerializer,
        responses={
            201: OrderDetailSerializer,
            **api_errors(CartEmpty, EmailNotVerified, InsufficientStock, IdempotencyKeyReused),
        },
    )

An item is a domain exception class (`code`, `http_status`, `default_message`), a DRF
exception class (`status_code`, `default_code`, `default_detail`) or a `(status, code,
description)` tuple. What every operation of a kind can answer is added by the schema class
(config.schema.ShopAutoSchema), so operations list only their own errors:

- 400 `invalid` (with `fields`) and `parse_error`, 413 `request_too_large`, 415
  `unsupported_media_type`: when the operation takes a request body (413 only where the view
  reads the raw body); 400 `invalid` also for a list with filters;
- 401 `token_invalid`/`token_expired` (with `not_authenticated` where a login is required):
  when the view authenticates Bearer tokens;
- 403 `permission_denied`: when a permission class can refuse a signed-in user;
- 404 `not_found`: on paths with a parameter (detail routes: no such object, or a NUL in
  it) and on paginated lists (a page out of range);
- 429 `throttled` (with `Retry-After`): when the view is throttled;
- 400 `bad_request`: on every operation (a NUL character in the query string, a Host the
  server does not serve: config/middleware.py, config/errors.py);
- 500 `server_error` and 503 `service_unavailable` (with `Retry-After`): on every operation,
  as the shared responses `ServerError` and `ServiceUnavailable` (config/errors.py).

An error body carries only what its schema lists: the narrowed part of each error schema
has `additionalProperties: false`, so a field an error adds (its `payload()`) must be
declared with `extra_properties`, or the fuzz (response_schema_conformance) fails.

A view that reads `request.body` itself (a signed webhook) sets `raw_body = True` so no
body errors are implied; a permission class that lets anonymous callers read sets
`anonymous_read = True` so safe methods are documented without security (as
`require_perms_by_method(..., safe_allowed=True)` does).

Lives in accounts, the lowest app, because every app's api.py imports it (apps never import
config).
"""

from collections.abc import Iterable, Mapping
from http import HTTPStatus

from drf_spectacular.utils import OpenApiResponse

ERROR_REF = {"$ref": "#/components/schemas/Error"}
FIELD_ERRORS_REF = {"$ref": "#/components/schemas/FieldErrors"}

# The messages behind codes that come from DRF itself (domain errors carry their own).
CODE_MESSAGES = {
    "invalid": "A field is missing or wrong; see `fields`.",
    "parse_error": "The body is not valid JSON.",
    "unsupported_media_type": "Send `Content-Type: application/json`.",
    "bad_request": "The request is malformed: a NUL character in the query string, a Host "
    "header this server does not serve, a broken multipart body.",
    "request_too_large": "The body is larger than the server accepts.",
    "not_authenticated": "No `Authorization: Bearer <access token>` header was sent.",
    "token_invalid": "The access token is malformed, or its session has ended: refresh or "
    "log in again.",
    "token_expired": "The access token has expired: refresh it, then retry the request once.",
    "permission_denied": "The signed-in user may not do this.",
    "not_found": "No such object (or not yours), a page past the last one, or a path "
    "parameter with a NUL character.",
    "throttled": "Too many requests; wait `Retry-After` seconds.",
    "server_error": "A bug on our side; the request may or may not have taken effect.",
    "service_unavailable": "The database or cache is briefly unreachable; retry after "
    "`Retry-After` seconds (with the same `Idempotency-Key` where the operation takes one).",
}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}

COMPONENTS = {
    "Error": {
        "type": "object",
        "description": "Every error under /api/ has this shape (close to RFC 9457 problem "
        "details): a message for people, a machine `code` (each operation lists its codes "
        "per status as an enum), and on 400 `invalid` the field errors under `fields`.",
        "properties": {
            "detail": {"type": "string", "description": "A message to show a person."},
            "code": {"type": "string", "description": "A machine code; see each operation."},
            "fields": FIELD_ERRORS_REF,
        },
        "required": ["detail", "code"],
    },
    "FieldErrors": {
        "type": "object",
        "description": "Errors per field; nested fields are dotted paths (`shipping_address."
        "city`, `lines.0.quantity`); errors about the body as a whole are under "
        "`non_field_errors`.",
        "additionalProperties": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/FieldError"},
        },
    },
    "FieldError": {
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "A message to show beside the field."},
            "code": {
                "type": "string",
                "description": "A machine code such as `required`, `blank`, `null`, `invalid`, "
                "`max_length`, `min_value`, `does_not_exist`, `invalid_choice` or a domain "
                "code (e.g. `password_too_short`, `insufficient_stock`).",
            },
        },
        "required": ["message", "code"],
    },
}


def _status_code_message(error) -> tuple[int, str, str]:
    if isinstance(error, tuple):
        status, code, *rest = error
        return int(status), code, rest[0] if rest else CODE_MESSAGES.get(code, "")
    if isinstance(getattr(error, "http_status", None), int):  # a domain error class
        return error.http_status, error.code, getattr(error, "default_message", "")
    if isinstance(getattr(error, "status_code", None), int):  # a DRF APIException class
        return error.status_code, error.default_code, str(error.default_detail)
    raise TypeError(f"api_errors cannot tell the status and code of {error!r}")


def error_schema(codes: Iterable[str], extra_properties: Mapping | None = None) -> dict:
    """Return the shared error schema narrowed to `codes` (an enum), with any extra fields.

    The narrowed part is closed (`additionalProperties: false`) and so lists every field the
    body may have: `detail`, `code`, `fields` where `invalid` is a code, and the extras.
    """
    narrowed = {
        "type": "object",
        "properties": {"code": {"type": "string", "enum": []}},
        "additionalProperties": False,
    }
    if extra_properties:
        narrowed["properties"].update(extra_properties)
    narrow_codes(narrowed, codes)
    return {"allOf": [ERROR_REF, narrowed]}


def narrow_codes(narrowed: dict, codes: Iterable[str]) -> None:
    """Set the narrowed part's code enum to `codes` (and what it had), and its base fields."""
    properties = narrowed["properties"]
    enum = sorted({*properties["code"]["enum"], *codes})
    base = COMPONENTS["Error"]["properties"]
    narrowed["properties"] = {
        "detail": dict(base["detail"]),
        **properties,
        "code": {**properties["code"], "enum": enum},
    }
    if "invalid" in enum:  # only a 400 `invalid` carries field errors
        narrowed["properties"]["fields"] = dict(base["fields"])


def shared_error_response(status: int, code: str, headers: Mapping | None = None) -> dict:
    """Return a response object (components.responses) for an error any operation can answer."""
    response = {
        "description": error_description(status, {code: CODE_MESSAGES[code]}),
        "content": {"application/json": {"schema": error_schema([code])}},
    }
    if headers:
        response["headers"] = dict(headers)
    return response


def error_description(status: int, messages: Mapping[str, str]) -> str:
    lines = [f"{HTTPStatus(status).phrase}."]
    lines += [f"- `{code}`: {message}".rstrip(": ") for code, message in sorted(messages.items())]
    return "\n".join(lines)


def api_errors(*errors, extra_properties: Mapping[int, Mapping] | None = None) -> dict:
    """Return `extend_schema(responses=...)` entries for the errors an operation answers.

    `extra_properties` adds fields some errors carry, per status (e.g. the short `lines` of
    a 409 `insufficient_stock`).
    """
    by_status: dict[int, dict[str, str]] = {}
    for error in errors:
        status, code, message = _status_code_message(error)
        by_status.setdefault(status, {})[code] = message
    extra_properties = extra_properties or {}
    return {
        status: OpenApiResponse(
            error_schema(messages, extra_properties.get(status)),
            description=error_description(status, messages),
        )
        for status, messages in sorted(by_status.items())
    }


# Errors any operation can answer (the database or Redis lost, a bug): every operation refers
# to these (config.api.add_error_components).
SHARED_RESPONSES = {
    "500": ("ServerError", shared_error_response(500, "server_error")),
    "503": (
        "ServiceUnavailable",
        shared_error_response(503, "service_unavailable", RETRY_AFTER_HEADER),
    ),
}

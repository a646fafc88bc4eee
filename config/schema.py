"""The OpenAPI schema class: the errors every operation of a kind can answer, auth, summaries.

Operations document their own errors with `accounts.openapi.api_errors(...)`; this class adds
the ones that follow from how the view is built (see that module's docstring for the rules),
so the schema lists, per operation and status, exactly the codes the API can answer.
"""

from django import forms
from django.utils.text import capfirst
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from rest_framework import permissions
from rest_framework.pagination import BasePagination

from accounts.openapi import (
    CODE_MESSAGES,
    ERROR_REF,
    RETRY_AFTER_HEADER,
    error_description,
    error_schema,
    narrow_codes,
)

BODY_METHODS = ("POST", "PUT", "PATCH")
STANDARD_ACTIONS = {
    "list": "List {plural}",
    "retrieve": "Get a {name}",
    "create": "Create a {name}",
    "update": "Replace a {name}",
    "partial_update": "Update a {name}",
    "destroy": "Delete a {name}",
}
RESPONSE_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": 'RFC 6750: `Bearer realm="api"`, with `error="invalid_token"` when '
            "a token was sent but cannot be used.",
            "schema": {"type": "string"},
        }
    },
    429: RETRY_AFTER_HEADER,
}


def _allows_anonymous(permission, method: str) -> bool:
    """Return True if the permission admits a caller who sent no token, for this method."""
    if isinstance(permission, permissions.AllowAny):
        return True
    safe = method in permissions.SAFE_METHODS
    return safe and (
        isinstance(permission, permissions.IsAuthenticatedOrReadOnly)
        or bool(getattr(permission, "anonymous_read", False))
    )


def _may_refuse_signed_in(permission, method: str) -> bool:
    """Return True if the permission can refuse a signed-in user (a 403)."""
    # A tuple: DRF's permission classes overload `|` to compose permissions.
    never_refuse = (
        permissions.AllowAny,
        permissions.IsAuthenticated,
        permissions.IsAuthenticatedOrReadOnly,
    )
    if isinstance(permission, never_refuse):
        return False
    return not (method in permissions.SAFE_METHODS and getattr(permission, "anonymous_read", False))


class ShopAutoSchema(AutoSchema):
    # -- who may call ---------------------------------------------------------------------
    def _permissions(self):
        return list(self.view.get_permissions())

    def login_required(self) -> bool:
        return not all(_allows_anonymous(p, self.method) for p in self._permissions())

    def get_auth(self):
        """Bearer where a login is required; nothing where anonymous callers pass.

        Not `[{}, {"bearerAuth": []}]` (optional) for public reads: generators such as
        openapi-python-client then demand an authenticated client for browsing. A token sent
        to a public operation is still checked (hence its documented 401s).
        """
        if not self.login_required():
            return []
        return [a for a in super().get_auth() if a]

    # -- summary --------------------------------------------------------------------------
    def get_summary(self):
        summary = super().get_summary()
        if summary:
            return summary
        action = getattr(self.view, "action", None)
        if action in STANDARD_ACTIONS:
            queryset = getattr(self.view, "queryset", None)
            model = queryset.model if queryset is not None else None
            if model is None and hasattr(self.view, "get_queryset"):
                try:
                    model = self.view.get_queryset().model
                except Exception:  # a queryset that needs a real request: fall back to the name
                    model = None
            if model is not None:
                name = str(model._meta.verbose_name)
                plural = str(model._meta.verbose_name_plural)
                return STANDARD_ACTIONS[action].format(name=name, plural=plural)
        handler = getattr(self.view, action or self.method.lower(), None)
        doc = get_doc(handler) if handler else ""
        return capfirst(doc.split("\n")[0].rstrip(".")) if doc else None

    # -- responses: required fields and errors ----------------------------------------------
    def _map_basic_serializer(self, serializer, direction):
        """In answers every field is always sent, so every field is `required` there."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and schema.get("properties"):
            schema["required"] = sorted(schema["properties"])
        return schema

    def _has_body(self) -> bool:
        """True if DRF parses a body here (a view reading the raw body sets `raw_body`)."""
        return (
            self.method in BODY_METHODS
            and self.get_request_serializer() is not None
            and not getattr(self.view, "raw_body", False)
        )

    def _is_paginated_list(self) -> bool:
        paginator = self._get_paginator()
        return (
            self.method == "GET"
            and isinstance(paginator, BasePagination)
            and self._is_list_view(self.get_response_serializers())
        )

    def _has_filters(self) -> bool:
        """True for a list whose filters can refuse a query parameter (400 `invalid`)."""
        filterset = getattr(self.view, "filterset_class", None)
        if not (
            filterset
            and self.view.filter_backends
            and self.method == "GET"
            and self._is_list_view(self.get_response_serializers())
        ):
            return False
        # A yes/no filter takes any value (unknown ones read as "not given"); others refuse.
        lenient = (forms.BooleanField, forms.NullBooleanField)
        return any(not issubclass(f.field_class, lenient) for f in filterset.base_filters.values())

    def implied_errors(self) -> dict[int, list[str]]:
        """Return the errors that follow from how the view is built, by status."""
        # Any request: a NUL in the query string (config.middleware.CraftedInputMiddleware),
        # a Host header not in ALLOWED_HOSTS (config.errors.handler400).
        errors: dict[int, list[str]] = {400: ["bad_request"]}
        if self._has_body():
            errors[400].extend(["invalid", "parse_error"])
            errors[413] = ["request_too_large"]
            errors[415] = ["unsupported_media_type"]
        elif self.method in BODY_METHODS and getattr(self.view, "raw_body", False):
            errors[413] = ["request_too_large"]  # reading request.body is limited as well
        if self._has_filters():
            errors.setdefault(400, []).append("invalid")
        if self.view.get_authenticators():
            codes = ["token_invalid", "token_expired"]
            if self.login_required():
                codes.append("not_authenticated")
            errors[401] = codes
        if any(_may_refuse_signed_in(p, self.method) for p in self._permissions()):
            errors[403] = ["permission_denied"]
        # A path naming an object (or with a NUL in a parameter: CraftedInputMiddleware).
        if "{" in self.path or getattr(self.view, "detail", False) or self._is_paginated_list():
            errors.setdefault(404, []).append("not_found")
        if self.view.get_throttles():
            errors[429] = ["throttled"]
        return errors

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status, codes in self.implied_errors().items():
            self._add_error_codes(responses, status, codes)
        for status, headers in RESPONSE_HEADERS.items():
            if str(status) in responses:
                responses[str(status)].setdefault("headers", {}).update(headers)
        return dict(sorted(responses.items()))

    @staticmethod
    def _add_error_codes(responses: dict, status: int, codes: list[str]) -> None:
        response = responses.get(str(status))
        if response is None:
            messages = {code: CODE_MESSAGES.get(code, "") for code in codes}
            responses[str(status)] = {
                "description": error_description(status, messages),
                "content": {"application/json": {"schema": error_schema(codes)}},
            }
            return
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        parts = schema.get("allOf", [])
        if not parts or parts[0] != ERROR_REF:
            raise ValueError(f"status {status} is documented without api_errors()")
        enum = parts[1]["properties"]["code"]["enum"]
        new = [code for code in codes if code not in enum]
        narrow_codes(parts[1], new)
        lines = [f"- `{code}`: {CODE_MESSAGES.get(code, '')}".rstrip(": ") for code in new]
        response["description"] = "\n".join([response.get("description", ""), *lines]).strip()

"""Small readers of API answers, so tests do not depend on the error body's layout.

An error body is `{"detail", "code"}`; a 400 `invalid` adds `fields`:
`{"<dotted field path>": [{"message", "code"}]}` (see config/api.py).
"""


def error_code(response) -> str:
    """Return the machine code of an API error answer."""
    return response.json()["code"]


def field_errors(response) -> dict[str, list[str]]:
    """Return `{field path: [messages]}` from a 400 answer's field errors."""
    fields = response.json().get("fields") or {}
    return {path: [error["message"] for error in errors] for path, errors in fields.items()}


def field_error_codes(response) -> dict[str, list[str]]:
    """Return `{field path: [codes]}` from a 400 answer's field errors."""
    fields = response.json().get("fields") or {}
    return {path: [error["code"] for error in errors] for path, errors in fields.items()}

"""Small readers of API answers, so tests do not depend on the error body's layout."""


def error_code(response) -> str:
    """Return the machine code of an API error answer."""
    return response.json()["code"]


def field_errors(response) -> dict:
    """Return `{field: [messages]}` from a 400 answer's field errors."""
    body = response.json()
    if isinstance(body.get("fields"), dict):
        return body["fields"]
    return {k: v for k, v in body.items() if k not in ("detail", "code")}

"""The API's JSON parser: DRF's, with a nesting limit so crafted bodies get 400, not 500."""

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError


def _too_deep(data, limit: int) -> bool:
    """Return True if containers nest deeper than `limit` (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """Parse JSON, refusing bodies nested deeper than API_JSON_MAX_DEPTH with `parse_error`.

    No endpoint takes more than a few levels; deeply nested input only exists to exhaust the
    stack (the decoder itself raises RecursionError near 1,000 levels).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        limit = settings.API_JSON_MAX_DEPTH
        if _too_deep(data, limit):
            raise ParseError(f"JSON parse error - nested deeper than {limit} levels.")
        return data

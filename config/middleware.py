"""Answer crafted request lines before any view sees them."""

from urllib.parse import unquote_to_bytes

from django.core.exceptions import SuspiciousOperation
from django.http import Http404, JsonResponse

API_PREFIX = "/api/"


class CraftedInputMiddleware:
    """Refuse NUL bytes in the path (404) and in the query string (400).

    No URL of ours contains a NUL, and PostgreSQL refuses NUL in text parameters, so a
    NUL that reached a lookup would end as a 500. Under /api/ the answer has the API's
    error shape (400 `bad_request`, documented on every operation by config.schema); pages
    get the usual 404 and 400 pages.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path_info.startswith(API_PREFIX)
        if "\x00" in request.path_info:
            if api:
                return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
            raise Http404("No such page.")
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in query or b"\x00" in unquote_to_bytes(query.replace("+", " ")):
            if api:
                return JsonResponse(
                    {"detail": "Null characters are not allowed.", "code": "bad_request"},
                    status=400,
                )
            raise SuspiciousOperation("Null character in the query string.")
        return self.get_response(request)

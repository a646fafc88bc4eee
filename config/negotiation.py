"""Content negotiation for the API: JSON when the client's Accept names nothing we render.

A module of its own: DRF imports the negotiation class while it defines `APIView`, so it
may not import `rest_framework.views` (config.api does).
"""

from django.http import Http404
from rest_framework import exceptions, negotiation


class LenientContentNegotiation(negotiation.DefaultContentNegotiation):
    """Answer in the view's first renderer (JSON) when `Accept` names nothing it renders.

    RFC 9110 (12.5.1) lets a server disregard an `Accept` it cannot satisfy rather than
    answer 406; clients expect that of a JSON API, and it keeps every answer documented (a
    406 would be an undocumented status on every operation). The same for a `?format=`
    that names no renderer (DRF's default answers 404). The report CSV views answer CSV
    whatever the `Accept`, and their errors in JSON.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except (exceptions.NotAcceptable, Http404):
            return renderers[0], renderers[0].media_type

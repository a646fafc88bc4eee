"""The site's URLs plus views that fail, to see the 500 and 403 pages in a browser."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def boom(request):
    raise RuntimeError("A deliberate failure for the 500 page test.")


def forbidden(request):
    raise PermissionDenied("A deliberate refusal for the 403 page test.")


urlpatterns = [path("boom/", boom), path("forbidden/", forbidden), *site_urlpatterns]

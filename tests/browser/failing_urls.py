"""The site's URLs plus one view that fails, to see the 500 page in a browser."""

from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def boom(request):
    raise RuntimeError("A deliberate failure for the 500 page test.")


urlpatterns = [path("boom/", boom), *site_urlpatterns]

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .api import not_found
from .health import healthz

# Each app owns its API routes (`<app>/api.py`) and its pages (`<app>/urls.py`).
APPS = ("accounts", "catalog", "inventory", "orders", "payments")
# Apps with an API and no pages of their own (reports' pages live in the admin).
API_ONLY_APPS = ("reports",)

API_V1 = "api/v1/"
api_v1 = [path("", include(f"{app}.api")) for app in (*APPS, *API_ONLY_APPS)]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # /metrics: 404 unless METRICS_ENABLED (see observability).
    path("", include("observability.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start script as a file (?script): no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path(API_V1, include(api_v1)),
    re_path(r"^api/", not_found),
    *[path("", include(f"{app}.urls")) for app in APPS],
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "config.errors.handler400"
handler500 = "config.errors.handler500"

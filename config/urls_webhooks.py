"""The URLconf of the lean webhook chain (config.handlers): providers' deliveries only."""

from django.urls import include, path, re_path

from payments.api import webhook_urlpatterns

from .api import not_found
from .urls import API_V1

urlpatterns = [
    path(API_V1, include(webhook_urlpatterns)),
    re_path(r"^api/", not_found),
]

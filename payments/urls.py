from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("orders/<str:number>/pay/", views.pay, name="pay"),
    path("orders/<str:number>/pay/success/", views.success, name="success"),
    path("orders/<str:number>/pay/failed/", views.failure, name="failure"),
    # Hosted checkout: where the provider sends the shopper back.
    path("orders/<str:number>/pay/return/", views.success, name="return"),
    path("orders/<str:number>/pay/cancelled/", views.cancelled, name="cancelled"),
    # The dummy provider's own page (it plays the provider in development and tests).
    path(
        "payments/dummy/checkout/<str:reference>/",
        views.dummy_checkout,
        name="dummy_checkout",
    ),
]

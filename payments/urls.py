from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("orders/<str:number>/pay/", views.pay, name="pay"),
    path("orders/<str:number>/pay/success/", views.success, name="success"),
    path("orders/<str:number>/pay/failed/", views.failure, name="failure"),
]

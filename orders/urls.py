from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/items/<int:item_id>/", views.cart_item_update, name="cart_item_update"),
    path("cart/items/<int:item_id>/remove/", views.cart_item_remove, name="cart_item_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<str:number>/", views.order_detail, name="order_detail"),
    path("orders/<str:number>/cancel/", views.order_cancel, name="order_cancel"),
    path(
        "orders/<str:number>/cancel/confirm/",
        views.order_cancel_confirm,
        name="order_cancel_confirm",
    ),
    path("orders/guest/<str:token>/", views.guest_order_link, name="guest_order_link"),
    path("guest-orders/<str:number>/", views.guest_order_detail, name="guest_order_detail"),
    path("guest-orders/<str:number>/cancel/", views.guest_order_cancel, name="guest_order_cancel"),
    path("account/addresses/", views.address_list, name="address_list"),
    path("account/addresses/<int:address_id>/", views.address_edit, name="address_edit"),
    path(
        "account/addresses/<int:address_id>/default/",
        views.address_make_default,
        name="address_make_default",
    ),
    path(
        "account/addresses/<int:address_id>/delete/",
        views.address_delete,
        name="address_delete",
    ),
]

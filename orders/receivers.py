"""Receivers of other apps' signals; each hands over to a service."""

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from inventory.signals import reservation_expired

from . import guest, services, shipping
from .models import ShippingMethod
from .selectors import GUEST_CART_SESSION_KEY


@receiver(user_logged_in, dispatch_uid="orders_merge_guest_cart")
def merge_guest_cart(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is None:
        return
    cart_id = session.pop(GUEST_CART_SESSION_KEY, None)
    if cart_id is not None:
        services.cart_merge_guest_into_user(guest_cart_id=cart_id, user=user)


@receiver(user_logged_in, dispatch_uid="orders_adopt_guest_orders")
def adopt_guest_orders(sender, request, user, **kwargs):
    # Only a verified email proves the orders placed with it as a guest are this user's.
    guest.guest_orders_adopt(user=user)


@receiver(reservation_expired, dispatch_uid="orders_expire_unpaid_order")
def expire_unpaid_order(sender, reference, **kwargs):
    services.order_expire_for_reference(reference=reference)


@receiver(post_save, sender=ShippingMethod, dispatch_uid="orders_shipping_methods_saved")
@receiver(post_delete, sender=ShippingMethod, dispatch_uid="orders_shipping_methods_deleted")
def shipping_methods_changed(sender, **kwargs):
    # Checkout reads the active methods from the cache: the next one must see this change.
    shipping.shipping_method_cache_invalidate()

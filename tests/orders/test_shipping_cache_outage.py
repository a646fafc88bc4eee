"""Checkout goes on while the cache (Redis) restarts: shipping methods come from the database."""

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from orders import shipping
from orders.models import Order, ShippingMethod
from tests.orders.factories import ADDRESS, stocked_product

pytestmark = pytest.mark.django_db


class DownCache:
    """A cache whose every call fails as django-redis does when Redis is unreachable."""

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise RedisConnectionError(
                "Error 111 connecting to 127.0.0.1:6379. Connection refused."
            )

        return refuse


def test_checkout_answers_201_with_the_chosen_method_while_the_cache_is_down(
    user_client, monkeypatch
):
    express = ShippingMethod.objects.create(
        name="Express", price="9.90", countries=[ADDRESS["country"]], position=2, active=True
    )
    product = stocked_product(on_hand=3, price="12.00")
    assert (
        user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1}).status_code
        == 201
    )
    monkeypatch.setattr(shipping, "cache", DownCache())

    response = user_client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS, "shipping_method": express.pk},
        format="json",
        headers={"Idempotency-Key": "cache-down-1"},
    )

    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    assert order.shipping_method_id == express.pk
    assert str(order.shipping) == "9.90"


def test_a_staff_edit_while_the_cache_is_down_is_saved(monkeypatch):
    monkeypatch.setattr(shipping, "cache", DownCache())
    method = ShippingMethod.objects.create(name="Standard", price="4.90", position=1, active=True)
    method.price = "5.90"
    method.save()
    assert str(ShippingMethod.objects.get(pk=method.pk).price) == "5.90"

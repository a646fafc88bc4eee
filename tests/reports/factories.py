"""Helpers for reports and staff-desk tests: orders placed and paid through the real services."""

import uuid

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.payments.factories import CARD_DECLINED, CARD_OK, place_order, stocked_product

__all__ = ["CARD_DECLINED", "CARD_OK", "place_order", "stocked_product"]


def permission(label: str, model=None) -> Permission:
    """Return the permission `app.codename`; made for `model` if its app has not defined it yet.

    Other branches add some of the custom permissions (transition_order, refund_payment,
    adjust_stock); tests name them now and keep working once they exist.
    """
    app_label, codename = label.split(".")
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    if found is not None:
        return found
    content_type = ContentType.objects.get_for_model(model)
    return Permission.objects.create(content_type=content_type, codename=codename, name=codename)


def staff_with(*labels, models=None, **fields):
    """Return a staff user (not a superuser) holding exactly the given permissions."""
    user = UserFactory(is_staff=True, **fields)
    models = models or {}
    user.user_permissions.set([permission(label, models.get(label)) for label in labels])
    return type(user).objects.get(pk=user.pk)  # fresh: no cached permissions


def pay(order, card=CARD_OK):
    """Pay the order through the API as its owner; return the response."""
    client = APIClient()
    client.force_authenticate(order.user)
    return client.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": card},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )

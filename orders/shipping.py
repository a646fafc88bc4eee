"""Shipping methods: which ones deliver where, what they cost, how far free shipping is."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django_countries import countries

from .models import ShippingMethod

CENT = Decimal("0.01")


def shipping_method_list(*, country: str | None = None) -> list[ShippingMethod]:
    """Return the active methods, cheapest position first; with a country, those shipping there."""
    methods = list(ShippingMethod.objects.filter(active=True).order_by("position", "price", "id"))
    if country:
        methods = [method for method in methods if method.ships_to(country)]
    return methods


def shipping_method_default(*, country: str | None = None) -> ShippingMethod | None:
    """Return the method checkout uses when the shopper picks none (the first that ships)."""
    methods = shipping_method_list(country=country)
    return methods[0] if methods else None


def shipping_method_resolve(*, method_id, country: str) -> ShippingMethod | None:
    """Return the chosen method (or the default) after checking it ships to `country`.

    None means the shop has no methods at all: the flat rate from settings applies.
    """
    if method_id in (None, ""):
        active = shipping_method_list()  # one query: a shop has a handful of methods
        method = next((m for m in active if m.ships_to(country)), None)
        if method is None and active:
            raise ValidationError(
                {"shipping_method": [f"We do not ship to {countries.name(country) or country}."]},
                code="not_shipped_there",
            )
        return method
    try:
        method_id = int(method_id)
    except (TypeError, ValueError):
        raise ValidationError({"shipping_method": ["Choose a shipping method."]}) from None
    method = ShippingMethod.objects.filter(pk=method_id, active=True).first()
    if method is None:
        raise ValidationError(
            {"shipping_method": ["Unknown or unavailable shipping method."]}, code="invalid"
        )
    if not method.ships_to(country):
        raise ValidationError(
            {
                "shipping_method": [
                    f"{method.name} does not deliver to {countries.name(country) or country}."
                ]
            },
            code="not_shipped_there",
        )
    return method


def _flat_rate() -> Decimal:
    return Decimal(str(settings.SHIPPING_FLAT_RATE or "0")).quantize(CENT)


def _flat_free_over() -> Decimal | None:
    free_over = str(settings.SHIPPING_FREE_OVER or "").strip()
    return Decimal(free_over) if free_over else None


def shipping_price(*, method: ShippingMethod | None, subtotal: Decimal) -> Decimal:
    """Return what shipping costs for that subtotal (the settings' flat rate without a method)."""
    if method is not None:
        return method.price_for(subtotal).quantize(CENT)
    free_over = _flat_free_over()
    if free_over is not None and subtotal >= free_over:
        return Decimal("0.00")
    return _flat_rate()


def shipping_method_label(method: ShippingMethod | None) -> str:
    return method.name if method is not None else "Standard shipping"


def free_shipping_remaining(*, subtotal: Decimal, country: str | None = None) -> Decimal | None:
    """Return how much more buys free shipping with the default method (None: never free)."""
    method = shipping_method_default(country=country)
    if method is not None:
        free_over = method.free_over
        if method.price == 0:
            return Decimal("0.00")
    else:
        free_over = _flat_free_over()
    if free_over is None:
        return None
    return max(free_over - subtotal, Decimal("0.00")).quantize(CENT)

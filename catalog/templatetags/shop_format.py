"""Money and times the way the shop's locale writes them (Babel, the shop's time zone)."""

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency
from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()


def money_format(value, currency: str | None = None) -> str:
    """Return the amount written for the shop's locale, e.g. €9.50 (en_IE) or 9,50 € (de_DE)."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format_currency(amount, currency or settings.SHOP_CURRENCY, locale=settings.SHOP_LOCALE)


@register.filter
def money(value, currency=None):
    """`{{ price|money }}` in the shop's currency, `{{ total|money:order.currency }}` in another."""
    return money_format(value, currency or None)


@register.filter
def shop_datetime(value):
    """Return the time in the shop's zone with the zone shown, e.g. "25 Nov 2026, 06:12 CET"."""
    if not value:
        return ""
    return date_format(timezone.localtime(value), "j M Y, H:i T")

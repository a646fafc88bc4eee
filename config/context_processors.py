from django.conf import settings


def shop(request):
    """Expose the shop's name, currency and time zone to every template."""
    return {
        "SHOP_NAME": settings.SHOP_NAME,
        "SHOP_CURRENCY": settings.SHOP_CURRENCY,
        "TIME_ZONE_NAME": settings.TIME_ZONE,
    }

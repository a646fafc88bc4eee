"""Shipping methods: which ones deliver where, what they cost, how far free shipping is.

The active methods are read from the cache (Redis in production), so checkout does not query
for them: a shop has a handful, staff edit them rarely, and every checkout needs them. The
cached rows are the values checkout snapshots on the order (name, price, free-over).

Freshness: an entry is served only while it carries the current version token; a save or
delete of a method (post_save/post_delete, see receivers.py) replaces the token at once and
again when its transaction commits, so the next read goes to the database. The token is read
before the database is, so a read racing an edit stores its rows under a token that is
replaced, never served. Writes that send no signals (QuerySet.update(), raw SQL) are seen
within CACHE_TTL.

While the cache is unreachable (Redis restarting) the methods are read from the database and
checkout goes on; a token that could not be replaced then is stale for CACHE_TTL at most.
"""

import functools
import logging
import uuid
import zlib
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django_countries import countries
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .models import ShippingMethod

CENT = Decimal("0.01")
VERSION_KEY = "orders:shipping-methods:version"
CACHE_TTL = 300  # seconds: the bound on staleness for writes that send no signals
# What django-redis raises when Redis cannot be reached.
CACHE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)

logger = logging.getLogger(__name__)


@functools.cache
def _fields() -> tuple[str, ...]:
    return tuple(field.attname for field in ShippingMethod._meta.concrete_fields)


@functools.cache
def _cache_key() -> str:
    # Every column is cached and the key names them, so a schema change starts afresh.
    return f"orders:shipping-methods:{zlib.crc32(','.join(_fields()).encode()):08x}"


def _row(method: ShippingMethod) -> tuple:
    return tuple(
        [c.code for c in method.countries] if name == "countries" else getattr(method, name)
        for name in _fields()
    )


def _method(row: tuple) -> ShippingMethod:
    method = ShippingMethod(**dict(zip(_fields(), row, strict=True)))
    method._state.adding = False
    method._state.db = router.db_for_read(ShippingMethod)
    return method


def _active_methods_read() -> list[ShippingMethod]:
    return list(ShippingMethod.objects.filter(active=True).order_by("position", "price", "id"))


def _active_methods() -> list[ShippingMethod]:
    """Return the active methods, cheapest position first: from the cache, else one query."""
    key = _cache_key()
    try:
        found = cache.get_many([VERSION_KEY, key])
    except CACHE_ERRORS as exc:
        logger.warning("shipping methods: cache unavailable (%s); read from the database", exc)
        return _active_methods_read()
    version, entry = found.get(VERSION_KEY), found.get(key)
    if version is not None and entry is not None and entry[0] == version:
        return [_method(row) for row in entry[1]]
    methods = None
    try:
        if version is None:
            fresh = uuid.uuid4().hex
            added = cache.add(VERSION_KEY, fresh, timeout=None)
            version = fresh if added else cache.get(VERSION_KEY)
        methods = _active_methods_read()
        if version is not None:
            cache.set(key, (version, [_row(method) for method in methods]), timeout=CACHE_TTL)
    except CACHE_ERRORS as exc:
        logger.warning("shipping methods: cache unavailable (%s); read from the database", exc)
    return methods if methods is not None else _active_methods_read()


def shipping_method_cache_invalidate() -> None:
    """Make the next read of the methods go to the database, and again once this write commits.

    The second time is what matters: a read between now and the commit still sees the old
    rows and caches them under the token replaced now.
    """
    _version_replace()
    transaction.on_commit(_version_replace, using=router.db_for_write(ShippingMethod))


def _version_replace() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except CACHE_ERRORS as exc:  # the cached rows lapse within CACHE_TTL
        logger.warning("shipping methods: cache unavailable (%s); not invalidated", exc)


def shipping_method_list(*, country: str | None = None) -> list[ShippingMethod]:
    """Return the active methods, cheapest position first; with a country, those shipping there."""
    methods = _active_methods()
    if country:
        methods = [method for method in methods if method.ships_to(country)]
    return methods


def shipping_method_default(*, country: str | None = None) -> ShippingMethod | None:
    """Return the method checkout uses when the shopper picks none (the first that ships)."""
    methods = shipping_method_list(country=country)
    return methods[0] if methods else None


def shipping_method_resolve(*, method_id, country: str) -> ShippingMethod | None:
    """Return the chosen method (or the default) after checking it ships to `country`.

    None means the shop has no methods at all: the flat rate from settings applies. No query
    while the cache holds the active methods.
    """
    active = _active_methods()
    if method_id in (None, ""):
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
    method = next((m for m in active if m.pk == method_id), None)
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

"""What every part of orders' services shares: the clock, the database in use, transactions."""

from django.db import connection
from django.utils import timezone

from ..models import OrderStatus

S = OrderStatus


def _now():
    return timezone.now()


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _in_transaction() -> bool:
    """Whether a transaction of ours is open (a test case's wrapping one does not count)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)

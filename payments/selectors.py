from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet

from orders.models import Order

from .fraud import FraudSignals
from .models import Payment, PaymentStatus, Refund, RefundStatus, WebhookEvent

VELOCITY_WINDOW = timedelta(hours=1)


def payment_list_for_order(*, order: Order) -> QuerySet[Payment]:
    """The order's payments, oldest first."""
    return Payment.objects.filter(order=order).select_related("order").order_by("created_at", "id")


def payment_get(*, payment_id) -> Payment | None:
    try:
        payment_id = int(payment_id)
    except (TypeError, ValueError):
        return None
    if not 0 < payment_id < 2**63:
        return None
    return Payment.objects.select_related("order").filter(pk=payment_id).first()


def order_get_for_payments_read(*, number: str, user) -> Order | None:
    """Return the order whose payments the user may list: their own, or any for staff.

    Staff need payments.view_payment (checked by the caller); this only finds the order.
    """
    if user is None or not user.is_authenticated:
        return None
    orders = Order.objects.filter(number=str(number)[:20])
    if not user.is_staff:
        orders = orders.filter(user=user)
    return orders.first()


def payment_latest_for_order(*, order: Order) -> Payment | None:
    return Payment.objects.filter(order=order).order_by("-created_at", "-id").first()


def fraud_signals(*, order: Order, user, ip_address: str | None, now: datetime) -> FraudSignals:
    """Gather what the fraud rules look at: amount, account age and the last hour's activity."""
    since = now - VELOCITY_WINDOW
    failed = Payment.objects.filter(status=PaymentStatus.FAILED, created_at__gte=since)
    by_ip_orders = by_ip_declines = 0
    if ip_address:
        recent = Payment.objects.filter(ip_address=ip_address, created_at__gte=since)
        by_ip_orders = len({order.pk, *recent.values_list("order_id", flat=True).distinct()})
        by_ip_declines = failed.filter(ip_address=ip_address).count()
    joined = getattr(user, "date_joined", None) or now
    return FraudSignals(
        amount=Decimal(order.total),
        account_age=now - joined,
        orders_by_user_last_hour=Order.objects.filter(user=user, placed_at__gte=since).count(),
        orders_by_ip_last_hour=by_ip_orders,
        declines_by_user_last_hour=failed.filter(order__user=user).count(),
        declines_by_ip_last_hour=by_ip_declines,
    )


def order_restocked_quantities(*, order: Order) -> dict[int, int]:
    """Quantities per product already put back on the shelf by this order's refunds."""
    returned: dict[int, int] = {}
    refunds = Refund.objects.filter(payment__order=order).exclude(status=RefundStatus.FAILED)
    for lines in refunds.values_list("restocked_lines", flat=True):
        for product_id, quantity in (lines or {}).items():
            returned[int(product_id)] = returned.get(int(product_id), 0) + int(quantity)
    return returned


def order_sold_quantities(*, order: Order) -> dict[int, int]:
    sold: dict[int, int] = {}
    for product_id, quantity in order.lines.values_list("product_id", "quantity"):
        if product_id is not None:
            sold[product_id] = sold.get(product_id, 0) + quantity
    return sold


def order_refundable_total(*, order: Order) -> Decimal:
    """What is left to refund over all of the order's payments that took money."""
    total = Decimal("0.00")
    captured = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)
    for amount, refunded in Payment.objects.filter(order=order, status__in=captured).values_list(
        "amount", "refunded_amount"
    ):
        total += amount - refunded
    return total


def webhook_event_ids_unprocessed(*, received_before: datetime, max_attempts: int) -> list[int]:
    return list(
        WebhookEvent.objects.filter(
            signature_valid=True,
            processed_at__isnull=True,
            received_at__lt=received_before,
            attempts__lt=max_attempts,
        )
        .order_by("received_at", "id")
        .values_list("id", flat=True)[:500]
    )


def payment_open_for_order(*, order: Order) -> Payment | None:
    """The order's payment that may still take money (at most one), if any."""
    from .models import OPEN_STATUSES

    return Payment.objects.filter(order=order, status__in=OPEN_STATUSES).first()

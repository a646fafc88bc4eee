"""Emails: the shopper on payment success, failure (with a link to try again) and refunds;
staff on payments held for review and refunds the provider refused. Queued after commit."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.links import email_link
from orders import guest as orders_guest
from outbox.mail import mail_send, mail_send_once
from outbox.services import task_enqueue

from ..models import Payment, Refund, RefundStatus
from .common import P, now

NOTIFIED_PAYMENT_STATUSES = (P.SUCCEEDED, P.FAILED)


def payment_notice_queue(payment: Payment) -> None:
    if payment.status in NOTIFIED_PAYMENT_STATUSES:
        task_enqueue("payments.tasks.payment_notify", payment.pk, payment.status)


def refund_notice_queue(refund: Refund) -> None:
    task_enqueue("payments.tasks.refund_notify", refund.pk)


def staff_alert_queue(*, subject: str, body: str) -> None:
    task_enqueue("payments.tasks.staff_alert", subject, body)


def payment_review_alert_queue(payment: Payment, *, reason: str) -> None:
    """Tell staff that a payment is held for review, and why."""
    staff_alert_queue(
        subject=f"Payment {payment.pk} needs review",
        body=f"Payment {payment.pk} of order {payment.order.number} "
        f"({payment.amount} {payment.currency}, {payment.gateway}): {reason}",
    )


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _order_url(order) -> str:
    """Return the order's link as the order emails give it: a guest's signed link, or
    EMAIL_LINK_ORDER / FRONTEND_URL / the shop's page for an account's order."""
    if order.is_guest:
        return orders_guest.guest_order_url(order=order)
    return email_link("order", number=order.number)


def _retry_url(order) -> str:
    """Return where the shopper pays again: the shop's payment page, unless the order link
    leads elsewhere (a guest's signed link, a SPA's or app's route): then that link."""
    order_url = _order_url(order)
    if order_url != _site(reverse("orders:order_detail", args=[order.number])):
        return order_url
    return _site(reverse("payments:pay", args=[order.number]))


def payment_notify(*, payment_id: int, status: str) -> bool:
    """Email the shopper that their payment succeeded or failed, once per status."""
    if status not in NOTIFIED_PAYMENT_STATUSES:
        return False
    payment = (
        Payment.objects.select_related("order")
        .filter(pk=payment_id, status=status)
        .exclude(notified_status=status)
        .first()
    )
    if payment is None:
        return False
    order = payment.order

    def build() -> EmailMessage:
        context = {
            "payment": payment,
            "order": order,
            "shop_name": settings.SHOP_NAME,
            "order_url": _order_url(order),
            "retry_url": _retry_url(order),
        }
        subject = render_to_string(f"payments/email/payment_{status}_subject.txt", context)
        body = render_to_string(f"payments/email/payment_{status}.txt", context)
        return EmailMessage(subject.strip(), body, settings.DEFAULT_FROM_EMAIL, [order.email])

    return mail_send_once(
        key=f"payments.payment:{payment_id}:{status}",
        build=build,
        on_sent=lambda: Payment.objects.filter(pk=payment_id).update(notified_status=status),
    )


def refund_notify(*, refund_id: int) -> bool:
    """Email the shopper about money given back, once per refund."""
    refund = (
        Refund.objects.select_related("payment__order")
        .filter(
            pk=refund_id,
            notified_at__isnull=True,
            status__in=(RefundStatus.SUCCEEDED, RefundStatus.PENDING),
        )
        .first()
    )
    if refund is None:
        return False
    order = refund.payment.order

    def build() -> EmailMessage:
        context = {
            "refund": refund,
            "payment": refund.payment,
            "order": order,
            "shop_name": settings.SHOP_NAME,
            "order_url": _order_url(order),
        }
        subject = render_to_string("payments/email/refund_subject.txt", context)
        body = render_to_string("payments/email/refund.txt", context)
        return EmailMessage(subject.strip(), body, settings.DEFAULT_FROM_EMAIL, [order.email])

    return mail_send_once(
        key=f"payments.refund:{refund_id}",
        build=build,
        on_sent=lambda: Refund.objects.filter(pk=refund_id, notified_at__isnull=True).update(
            notified_at=now()
        ),
    )


def staff_alert_recipients() -> list[str]:
    """PAYMENT_ALERT_EMAILS, or every active staff member who may review payments."""
    if settings.PAYMENT_ALERT_EMAILS:
        return list(settings.PAYMENT_ALERT_EMAILS)
    users = get_user_model().objects.filter(is_active=True, is_staff=True)
    perm = Q(is_superuser=True) | Q(
        user_permissions__codename="review_payment",
        user_permissions__content_type__app_label="payments",
    )
    perm |= Q(
        groups__permissions__codename="review_payment",
        groups__permissions__content_type__app_label="payments",
    )
    return sorted(set(users.filter(perm).values_list("email", flat=True)))


def staff_alert(*, subject: str, body: str, once_key: str | None = None) -> int:
    """Email staff about a payment that needs a person; return how many were mailed.

    `once_key` (a task's id) makes a second run of the same task mail nobody again.
    """
    recipients = staff_alert_recipients()
    if not recipients:
        return 0

    def build() -> EmailMessage:
        return EmailMessage(
            f"[{settings.SHOP_NAME}] {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients
        )

    sent = mail_send(build=build, once_key=once_key and f"payments.staff-alert:{once_key}")
    return len(recipients) if sent else 0

"""The payments side of the order desk: payments and refunds on the order page, and a refund
form (amount, lines to put back, reason) with a confirmation page showing what will happen.

Orders may not import payments, so this module extends the order admin from here, through
`OrderAdmin.extend`. Refunds go through `services.refund_create` and need
`payments.refund_payment`.
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from orders.admin import DeskButton, OrderAdmin
from orders.models import Order, OrderStatus

from . import selectors, services
from .errors import PaymentsError
from .models import CAPTURED_STATUSES, Payment, RefundStatus

REFUND_PERMISSION = "payments.refund_payment"


class OrderPaymentInline(admin.TabularInline):
    """The order's payments with their refunds, read-only."""

    model = Payment
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "created_at",
        "gateway",
        "status",
        "amount",
        "refunded_amount",
        "risk_score",
        "refund_list",
    )
    readonly_fields = fields
    ordering = ("created_at", "id")
    verbose_name_plural = "payments and refunds"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("refunds")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Refunds")
    def refund_list(self, payment):
        refunds = list(payment.refunds.all())
        if not refunds:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {} · {} · {}{}</li>",
                (
                    (
                        r.amount,
                        payment.currency,
                        r.get_status_display(),
                        r.reason,
                        " · restocked" if r.restock else "",
                    )
                    for r in refunds
                ),
            ),
        )


def refundable_payments(order: Order):
    return [p for p in selectors.payment_list_for_order(order=order) if p.refundable > 0]


# Orders whose goods left the warehouse, so a refund may put them back (the refund service
# checks it again and refuses otherwise).
RESTOCKABLE_ORDER_STATUSES = frozenset(
    {
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
    }
)
# Orders whose status follows their refunds.
REFUND_TRACKING_ORDER_STATUSES = frozenset({OrderStatus.DELIVERED, OrderStatus.PARTIALLY_REFUNDED})


def _restockable(order: Order) -> bool:
    return order.status in RESTOCKABLE_ORDER_STATUSES


def _left_to_restock(order: Order) -> dict[int, int]:
    sold = selectors.order_sold_quantities(order=order)
    returned = selectors.order_restocked_quantities(order=order)
    return {pid: qty - returned.get(pid, 0) for pid, qty in sold.items()}


class RefundForm(forms.Form):
    payment = forms.TypedChoiceField(coerce=int, label="Payment")
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=255, help_text="Kept with the refund; the shopper sees it.")
    restock = forms.BooleanField(
        required=False,
        label="Put goods back on the shelf",
        help_text="With no quantities below, everything not yet back goes back.",
    )
    # One key per rendered form (carried through the confirmation): a double-posted
    # confirmation answers the refund it made instead of making a second one.
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, order: Order, payments, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.order = order
        self.payments = {p.pk: p for p in payments}
        self.fields["payment"].choices = [
            (p.pk, f"#{p.pk} {p.gateway} · {p.amount} {p.currency} · {p.refundable} left")
            for p in payments
        ]
        if len(payments) == 1:
            self.fields["payment"].initial = payments[0].pk
            self.fields["amount"].initial = payments[0].refundable
        self.line_fields = []
        if _restockable(order):
            left = _left_to_restock(order)
            for line in order.lines.all():
                if line.product_id is None or left.get(line.product_id, 0) <= 0:
                    continue
                name = f"line_{line.product_id}"
                self.fields[name] = forms.IntegerField(
                    required=False,
                    min_value=0,
                    max_value=left[line.product_id],
                    label=f"{line.name} ({line.sku})",
                    help_text=f"Up to {left[line.product_id]}.",
                )
                self.line_fields.append((name, line))
        else:
            del self.fields["restock"]

    def clean(self):
        data = super().clean()
        payment = self.payments.get(data.get("payment"))
        if payment is None:
            return data
        data["payment_obj"] = payment
        amount = data.get("amount")
        if amount is not None and amount > payment.refundable:
            self.add_error(
                "amount", f"At most {payment.refundable} {payment.currency} is left to refund."
            )
        lines = {
            line.product_id: data[name]
            for name, line in self.line_fields
            if data.get(name)  # 0 or empty: this line stays out
        }
        if lines and not data.get("restock"):
            self.add_error("restock", "Tick this to put the quantities below back on the shelf.")
        data["lines"] = lines or None
        return data

    def summary(self) -> dict:
        """What the refund will do, for the confirmation page."""
        data = self.cleaned_data
        payment, amount = data["payment_obj"], data["amount"]
        order = self.order
        after = payment.refundable - amount
        new_status = None
        left = selectors.order_refundable_total(order=order) - amount
        if order.status in REFUND_TRACKING_ORDER_STATUSES:
            new_status = (
                OrderStatus.PARTIALLY_REFUNDED if left > 0 else OrderStatus.REFUNDED
            ).label
        elif order.status in (OrderStatus.PAID, OrderStatus.PROCESSING) and left <= 0:
            # Everything back before shipping ends the order (orders.order_refund_apply).
            new_status = OrderStatus.REFUNDED.label
        restock = []
        if data.get("restock"):
            wanted = data["lines"] or {
                pid: qty for pid, qty in _left_to_restock(order).items() if qty > 0
            }
            names = {line.product_id: line for line in order.lines.all()}
            restock = [
                (qty, names[pid].name, names[pid].sku)
                for pid, qty in wanted.items()
                if pid in names
            ]
        return {
            "payment": payment,
            "amount": amount,
            "left_after": after,
            "new_status": new_status,
            "restock": restock,
            "reason": data["reason"],
        }


class PaymentsDesk:
    """Adds the payments inline, a Refund button and the refund pages to the order admin."""

    inlines = (OrderPaymentInline,)

    @staticmethod
    def can_refund(request) -> bool:
        return request.user.has_perm(REFUND_PERMISSION)

    def buttons(self, request, order):
        if not self.can_refund(request):
            return []
        has_money = Payment.objects.filter(
            order=order, status__in=CAPTURED_STATUSES, refunded_amount__lt=F("amount")
        ).exists()
        if not has_money:
            return []
        return [DeskButton("Refund…", reverse("admin:orders_order_refund", args=[order.pk]))]

    def urls(self, model_admin):
        view = model_admin.admin_site.admin_view

        def refund_view(request, pk):
            return self.refund_view(model_admin, request, pk)

        return [path("<int:pk>/refund/", view(refund_view), name="orders_order_refund")]

    def refund_view(self, model_admin, request, pk):
        order = get_object_or_404(Order, pk=pk)
        if not self.can_refund(request):
            raise PermissionDenied
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        payments = refundable_payments(order)
        if not payments:
            model_admin.message_user(
                request, f"Nothing is left to refund on order {order.number}.", messages.WARNING
            )
            return redirect(change_url)
        form = RefundForm(request.POST or None, order=order, payments=payments)
        template = "payments/admin/refund_form.html"
        extra = {"form": form, "change_url": change_url}
        if request.method == "POST" and form.is_valid():
            if "confirm" in request.POST:
                data = form.cleaned_data
                try:
                    refund, created = services.refund_create_once(
                        payment=data["payment_obj"],
                        idempotency_key=f"admin-{data['idempotency_key']}",
                        amount=data["amount"],
                        reason=data["reason"],
                        restock=bool(data.get("restock")),
                        lines=data["lines"],
                        actor=request.user,
                    )
                except PaymentsError as exc:
                    form.add_error(None, str(exc))
                else:
                    done = refund.status == RefundStatus.SUCCEEDED
                    what = ("made" if done else "requested") if created else "already requested"
                    model_admin.message_user(
                        request,
                        f"Refund of {refund.amount} {data['payment_obj'].currency} on order "
                        f"{order.number} {what}.",
                        messages.SUCCESS if created else messages.INFO,
                    )
                    return redirect(change_url)
            else:
                template = "payments/admin/refund_confirm.html"
                extra["summary"] = form.summary()
        context = model_admin.desk_context(request, order, f"Refund order {order.number}", **extra)
        return TemplateResponse(request, template, context)


OrderAdmin.extend(PaymentsDesk())

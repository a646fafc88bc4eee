import json
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from catalog.templatetags.shop_format import money_format

from . import services
from .errors import PaymentsError
from .models import (
    FraudCheck,
    FraudDecision,
    GatewayStatus,
    Payment,
    PaymentStatus,
    Refund,
    WebhookEvent,
)


@dataclass(frozen=True)
class BulkChange:
    """A bulk action on payments: which it applies to, what it does, as its page says."""

    title: str
    heading: str
    refused_heading: str
    verb: str
    done: str
    applies_to: Callable[[Payment], bool]
    consequence: Callable[[Payment], str]
    service: Callable[[Payment, object], object]


def _in_review(payment: Payment) -> bool:
    return payment.status == PaymentStatus.REVIEW


def _approve_consequence(payment: Payment) -> str:
    if payment.gateway_status == GatewayStatus.SUCCEEDED:
        return f"The order is paid ({money_format(payment.amount, payment.currency)} taken)."
    if payment.gateway_status == GatewayStatus.FAILED:
        return "The provider declined it: the payment fails, the order stays unpaid."
    return "The payment waits for the provider to settle it; the order stays unpaid for now."


def _reject_consequence(payment: Payment) -> str:
    if payment.gateway_status == GatewayStatus.SUCCEEDED:
        return (
            f"{money_format(payment.amount, payment.currency)} goes back to the shopper; "
            "the order stays unpaid."
        )
    return "The payment fails (nothing was taken); the order stays unpaid."


def _refund_consequence(payment: Payment) -> str:
    left = money_format(payment.refundable, payment.currency)
    paid = money_format(payment.amount, payment.currency)
    return f"{left} goes back of {paid} paid; nothing goes back on the shelf."


APPROVE = BulkChange(
    title="Approve payments in review",
    heading="These payments will be approved",
    refused_heading="These stay as they are (not in review)",
    verb="approve",
    done="approved",
    applies_to=_in_review,
    consequence=_approve_consequence,
    service=lambda p, actor: services.payment_review_approve(payment=p, actor=actor),
)
REJECT = BulkChange(
    title="Reject payments in review",
    heading="These payments will be rejected",
    refused_heading="These stay as they are (not in review)",
    verb="reject",
    done="rejected",
    applies_to=_in_review,
    consequence=_reject_consequence,
    service=lambda p, actor: services.payment_review_reject(payment=p, actor=actor),
)
REFUND_REST = BulkChange(
    title="Refund what is left",
    heading="What is left of these payments will be refunded",
    refused_heading="These stay as they are (nothing left to refund)",
    verb="refund",
    done="refunded",
    applies_to=lambda p: p.refundable > 0,
    consequence=_refund_consequence,
    service=lambda p, actor: services.refund_create(
        payment=p, amount=p.refundable, reason="Refunded by staff.", actor=actor
    ),
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records kept as they happened: staff look, and act only through actions."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = (
        "created_at",
        "amount",
        "reason",
        "restock",
        "restocked_lines",
        "status",
        "automatic",
        "actor",
        "gateway_reference",
    )
    readonly_fields = fields


class FraudCheckInline(ReadOnlyInline):
    model = FraudCheck
    fields = ("created_at", "score", "rules_hit", "decision", "reviewed_by", "reviewed_at")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Payments are written by the shop; staff review flagged ones and refund from here."""

    list_display = ("id", "order", "status", "money", "gateway", "risk_score", "created_at")
    list_filter = ("status", "gateway", "created_at")
    search_fields = ("order__number", "gateway_reference", "order__email")
    list_select_related = ("order",)
    date_hierarchy = "created_at"
    readonly_fields = [
        f.name for f in Payment._meta.fields if f.name not in ("request_hash", "provider_key")
    ]
    exclude = ("request_hash", "provider_key")
    inlines = (RefundInline, FraudCheckInline)
    actions = ("approve_review", "reject_review", "refund_in_full")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Amount", ordering="amount")
    def money(self, payment):
        refunded = f" ({payment.refunded_amount} back)" if payment.refunded_amount else ""
        return f"{payment.amount} {payment.currency}{refunded}"

    def _each(self, request, payments, service, done: str):
        ok = 0
        for payment in payments:
            try:
                service(payment)
            except PaymentsError as exc:
                self.message_user(request, f"Payment {payment.pk}: {exc}", messages.ERROR)
            else:
                ok += 1
        if ok:
            self.message_user(request, f"{ok} payment(s) {done}.", messages.SUCCESS)

    def _confirm_or_apply(self, request, queryset, *, bulk: BulkChange, permission: str):
        """Show what the action will change; apply it when that page is confirmed."""
        payments = list(queryset.select_related("order").order_by("pk"))
        acting = [p for p in payments if bulk.applies_to(p)]
        if "apply" in request.POST:
            if not request.user.has_perm(permission):  # the action list checks it too
                raise PermissionDenied
            self._each(request, acting, lambda p: bulk.service(p, request.user), bulk.done)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{bulk.title}: {len(acting)} of {len(payments)} selected payment(s)",
            "heading": bulk.heading,
            "rows": [(p, bulk.consequence(p)) for p in acting],
            "refused": [p for p in payments if p not in acting],
            "refused_heading": bulk.refused_heading,
            "confirm_label": f"Yes, {bulk.verb} {len(acting)} payment{pluralize(len(acting))}",
            "queryset": payments,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": reverse("admin:payments_payment_changelist"),
        }
        return TemplateResponse(request, "admin/payments/payment/bulk_confirm.html", context)

    def has_review_payment_permission(self, request):
        return request.user.has_perm("payments.review_payment")

    def has_refund_payment_permission(self, request):
        return request.user.has_perm("payments.refund_payment")

    @admin.action(
        description="Approve selected payments in review…", permissions=["review_payment"]
    )
    def approve_review(self, request, queryset):
        return self._confirm_or_apply(
            request, queryset, bulk=APPROVE, permission="payments.review_payment"
        )

    @admin.action(
        description="Reject selected payments in review (money goes back)…",
        permissions=["review_payment"],
    )
    def reject_review(self, request, queryset):
        return self._confirm_or_apply(
            request, queryset, bulk=REJECT, permission="payments.review_payment"
        )

    @admin.action(
        description="Refund what is left of selected payments (no restock)…",
        permissions=["refund_payment"],
    )
    def refund_in_full(self, request, queryset):
        return self._confirm_or_apply(
            request, queryset, bulk=REFUND_REST, permission="payments.refund_payment"
        )


@admin.register(FraudCheck)
class FraudCheckAdmin(ReadOnlyAdmin):
    list_display = ("payment", "score", "decision", "reviewed_by", "created_at")
    list_filter = ("decision",)
    list_select_related = ("payment__order", "reviewed_by")
    readonly_fields = (
        "payment",
        "score",
        "rules_hit",
        "decision",
        "reviewed_by",
        "reviewed_at",
        "created_at",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(decision=FraudDecision.ALLOW)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """The webhook inbox, read-only; unprocessed events can be processed again."""

    list_display = (
        "received_at",
        "gateway",
        "type",
        "event_id",
        "signature_valid",
        "processed",
        "attempts",
        "short_error",
    )
    list_filter = (
        "gateway",
        "type",
        "signature_valid",
        ("processed_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("event_id", "type")
    date_hierarchy = "received_at"
    readonly_fields = (
        "gateway",
        "event_id",
        "type",
        "signature_valid",
        "signature_header",
        "received_at",
        "processed_at",
        "attempts",
        "error",
        "body",
    )
    exclude = ("raw_body",)
    actions = ("reprocess",)

    @admin.display(boolean=True, description="Processed")
    def processed(self, obj):
        return obj.processed_at is not None

    @admin.display(description="Error")
    def short_error(self, obj):
        return obj.error[:80]

    @admin.display(description="Body")
    def body(self, obj):
        """The body as received, indented when it is JSON."""
        try:
            text = json.dumps(json.loads(obj.raw_body), indent=2, sort_keys=True)
        except ValueError:
            text = obj.raw_body
        return format_html('<pre class="webhook-body">{}</pre>', text)

    def has_review_payment_permission(self, request):
        return request.user.has_perm("payments.review_payment")

    @admin.action(
        description="Process selected events again (processed or refused ones are skipped)",
        permissions=["review_payment"],
    )
    def reprocess(self, request, queryset):
        ids = list(queryset.filter(signature_valid=True).values_list("pk", flat=True))
        counts = services.webhook_events_reprocess(event_ids=ids)
        level = messages.ERROR if counts["failed"] else messages.SUCCESS
        self.message_user(
            request,
            f"{counts['processed']} processed, {counts['skipped']} already done, "
            f"{counts['failed']} failed.",
            level,
        )


from . import admin_desk  # noqa: E402,F401  (the order desk's payments and refunds)

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from . import services
from .errors import PaymentsError
from .models import FraudCheck, FraudDecision, Payment, PaymentStatus, Refund, WebhookEvent


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

    def _each(self, request, queryset, service, done: str):
        ok = 0
        for payment in queryset:
            try:
                service(payment)
            except PaymentsError as exc:
                self.message_user(request, f"Payment {payment.pk}: {exc}", messages.ERROR)
            else:
                ok += 1
        if ok:
            self.message_user(request, f"{ok} payment(s) {done}.", messages.SUCCESS)

    def has_review_payment_permission(self, request):
        return request.user.has_perm("payments.review_payment")

    def has_refund_payment_permission(self, request):
        return request.user.has_perm("payments.refund_payment")

    @admin.action(description="Approve selected payments in review", permissions=["review_payment"])
    def approve_review(self, request, queryset):
        self._each(
            request,
            queryset.filter(status=PaymentStatus.REVIEW),
            lambda p: services.payment_review_approve(payment=p, actor=request.user),
            "approved",
        )

    @admin.action(
        description="Reject selected payments in review (money goes back)",
        permissions=["review_payment"],
    )
    def reject_review(self, request, queryset):
        self._each(
            request,
            queryset.filter(status=PaymentStatus.REVIEW),
            lambda p: services.payment_review_reject(payment=p, actor=request.user),
            "rejected",
        )

    @admin.action(
        description="Refund what is left of selected payments (no restock)",
        permissions=["refund_payment"],
    )
    def refund_in_full(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda p: services.refund_create(
                payment=p, amount=p.refundable, reason="Refunded by staff.", actor=request.user
            ),
            "refunded",
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

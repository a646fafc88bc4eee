from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

# What a refused webhook request keeps of its body (characters; bytes are cut first).
REFUSED_BODY_MAX = 1024


class PaymentStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REVIEW = "review", "In fraud review"
    REFUNDED = "refunded", "Refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"


class GatewayStatus(models.TextChoices):
    """What the provider says about the money, apart from our review and refunds."""

    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


# Payments that may still take money: at most one per order (a partial unique constraint).
# `processing`: recorded, the gateway is being asked (or a crash left it; reconcile asks);
# `pending`: the provider has it (hosted checkout open, bank confirmation due);
# `review`: held by the fraud rules or a webhook that did not match.
OPEN_STATUSES = (PaymentStatus.PROCESSING, PaymentStatus.PENDING, PaymentStatus.REVIEW)

# Payments that took money (some of it may have gone back).
CAPTURED_STATUSES = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
)


class Payment(models.Model):
    """One attempt to pay an order through a gateway; the amount is the order's total."""

    Status = PaymentStatus

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    gateway = models.CharField(max_length=32)
    gateway_reference = models.CharField(max_length=100, blank=True)
    gateway_status = models.CharField(
        max_length=16, choices=GatewayStatus.choices, default=GatewayStatus.PENDING
    )
    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PROCESSING
    )
    idempotency_key = models.CharField(max_length=255)
    # The key the provider dedups our calls on: derived from the order number and the
    # client's Idempotency-Key in phase 1, so a retry after a crash asks for the same charge.
    provider_key = models.CharField(max_length=255, blank=True)
    # Hosted checkout: where the shopper goes to pay (the provider's page), and where the
    # provider sends them back to (kept, so a retried call asks for exactly the same).
    redirect_url = models.URLField(max_length=2000, blank=True)
    return_url = models.URLField(max_length=2000, blank=True)
    cancel_url = models.URLField(max_length=2000, blank=True)
    # Why the payment is held in review (fraud rules, a webhook that did not match).
    review_reason = models.CharField(max_length=255, blank=True)
    # The status the shopper was last emailed about (so a repeated task mails once).
    notified_status = models.CharField(max_length=20, blank=True, editable=False)
    # When staff were alerted about this payment's review (cleared when it goes to review).
    alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Keyed hash of the request (gateway and card), to tell a replay from a reused key.
    request_hash = models.CharField(max_length=64)
    risk_score = models.PositiveSmallIntegerField(default=0)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        permissions = [
            ("refund_payment", "Can refund payments"),
            ("review_payment", "Can decide on payments held for review"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("order", "idempotency_key"), name="payments_payment_order_idempotency"
            ),
            models.UniqueConstraint(
                fields=("order",),
                condition=Q(status__in=OPEN_STATUSES),
                name="payments_payment_one_open_per_order",
            ),
            models.UniqueConstraint(
                fields=("provider_key",),
                condition=~Q(provider_key=""),
                name="payments_payment_provider_key",
            ),
            models.UniqueConstraint(
                fields=("gateway", "gateway_reference"),
                condition=~Q(gateway_reference=""),
                name="payments_payment_gateway_reference",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="payments_payment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="payments_payment_amount_gte_0"
            ),
            # Never more back than was paid: the last line of defence for refunds.
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="payments_payment_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(risk_score__lte=100), name="payments_payment_risk_score_lte_100"
            ),
        ]
        indexes = [
            models.Index(fields=["order", "created_at"], name="payments_pay_order_created"),
            models.Index(fields=["status", "created_at"], name="payments_pay_status_created"),
            models.Index(fields=["ip_address", "created_at"], name="payments_pay_ip_created"),
        ]

    def __str__(self):
        return f"Payment {self.pk} of order {self.order.number} ({self.get_status_display()})"

    # How shoppers see the gateway: the way they paid, not our integration's name.
    SHOPPER_METHOD_LABELS = {"dummy": "Card", "stripe": "Card"}

    @property
    def shopper_method_label(self) -> str:
        return self.SHOPPER_METHOD_LABELS.get(self.gateway, "Card")

    @property
    def refundable(self) -> Decimal:
        if self.status not in CAPTURED_STATUSES:
            return Decimal("0.00")
        return self.amount - self.refunded_amount


class RefundStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Refund(models.Model):
    """Money given back on a payment; with restock, the goods it names went back on the shelf."""

    Status = RefundStatus

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=255)
    restock = models.BooleanField(default=False)
    # product id (as a string) -> quantity put back on the shelf by this refund
    restocked_lines = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.PROCESSING
    )
    automatic = models.BooleanField(default=False)
    # The client's Idempotency-Key (API header, the admin form's one-time key), or one the
    # service derives under the payment lock for refunds no client asked for; one refund per
    # (payment, key). `request_hash` tells a replay from a reused key.
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    # Derived from the payment's provider key and `idempotency_key` in phase 1 (see
    # payments.services.refunds): a retry asks the provider for the same refund.
    provider_key = models.CharField(max_length=255, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Whether this refund counts for the order (it refunds the payment that paid it); an
    # automatic refund of money that could not pay the order does not.
    counts_for_order = models.BooleanField(default=True)
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    gateway_reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(status__in=RefundStatus.values), name="payments_refund_status_valid"
            ),
            models.UniqueConstraint(
                fields=("provider_key",),
                condition=~Q(provider_key=""),
                name="payments_refund_provider_key",
            ),
            models.UniqueConstraint(
                fields=("payment", "idempotency_key"),
                condition=~Q(idempotency_key=""),
                name="payments_refund_payment_idempotency",
            ),
        ]
        indexes = [
            models.Index(fields=["gateway_reference"], name="payments_refund_reference"),
        ]

    def __str__(self):
        payment = self.payment
        return f"Refund {self.pk}: {self.amount} {payment.currency} of order {payment.order.number}"


class WebhookEvent(models.Model):
    """The inbox: every webhook request, stored before anything is done with it.

    A verified event is stored once per (gateway, event id), acknowledged, and processed
    once afterwards by a worker (`processed_at` is set in the transaction that applies it).
    Refused requests keep their metadata and at most 1 KB of body, are never processed,
    and are purged after WEBHOOK_RETENTION_DAYS like processed ones.
    """

    gateway = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=100, blank=True)
    raw_body = models.TextField(blank=True)
    signature_header = models.CharField(max_length=1024, blank=True)
    signature_valid = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("-received_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("gateway", "event_id"),
                condition=Q(signature_valid=True),
                name="payments_webhook_one_per_event",
            ),
            models.CheckConstraint(
                condition=Q(signature_valid=True) | Q(processed_at__isnull=True),
                name="payments_webhook_refused_never_processed",
            ),
            models.CheckConstraint(
                condition=Q(signature_valid=True)
                | Q(LessThanOrEqual(Length("raw_body"), REFUSED_BODY_MAX)),
                name="payments_webhook_refused_body_small",
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(signature_valid=True, processed_at__isnull=True),
                name="payments_webhook_unprocessed",
            ),
            models.Index(fields=["received_at"], name="payments_webhook_received"),
        ]

    def __str__(self):
        return f"{self.gateway} {self.type or '?'} {self.event_id or '(refused)'}"


class FraudDecision(models.TextChoices):
    ALLOW = "allow", "Allowed"
    REVIEW = "review", "Needs review"
    APPROVED = "approved", "Approved by staff"
    REJECTED = "rejected", "Rejected by staff"


class FraudCheck(models.Model):
    """The fraud rules' verdict on a payment, and the staff decision when it was reviewed."""

    Decision = FraudDecision

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="fraud_checks")
    score = models.PositiveSmallIntegerField(default=0)
    rules_hit = models.JSONField(default=list, blank=True)
    decision = models.CharField(max_length=16, choices=FraudDecision.choices)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=FraudDecision.values), name="payments_fraud_decision_valid"
            ),
            models.CheckConstraint(
                condition=Q(score__lte=100), name="payments_fraud_score_lte_100"
            ),
        ]

    def __str__(self):
        decision = self.get_decision_display()
        return f"Fraud check of payment {self.payment_id}: {self.score} ({decision})"


class DummyProviderRecord(models.Model):
    """The dummy provider's own ledger: what it charged or refunded, once per idempotency key.

    It plays the provider's side (a real provider keeps this on its servers), so the dummy
    gateway honours idempotency keys and answers status lookups like a real one.
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.CharField(max_length=255, unique=True)
    reference = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=16)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    payment_reference = models.CharField(max_length=100, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    # Hosted checkout: where the provider's page sends the shopper back to.
    success_url = models.URLField(max_length=2000, blank=True)
    cancel_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="payments_dummyrecord_amount_gte_0"
            ),
        ]

    def __str__(self):
        return f"dummy {self.kind} {self.reference} ({self.status})"

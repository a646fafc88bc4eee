from django.conf import settings
from django.db import models
from django.db.models import F, Q


class StockItem(models.Model):
    """The stock of one product: what is on the shelf and how much of it is promised."""

    product = models.OneToOneField(
        "catalog.Product", on_delete=models.PROTECT, related_name="stock"
    )
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)
    low_stock_threshold = models.PositiveIntegerField(default=5)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("product_id",)
        permissions = [("adjust_stock", "Can receive and adjust stock")]
        constraints = [
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="inventory_on_hand_gte_0"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="inventory_reserved_gte_0"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="inventory_reserved_lte_on_hand"
            ),
        ]

    def __str__(self):
        return f"Stock of {self.product}"

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


class Batch(models.Model):
    """A delivery of one stock item under a supplier batch number, with its expiry date."""

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="batches")
    number = models.CharField(max_length=64)
    expires_on = models.DateField(null=True, blank=True)
    quantity_received = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("expires_on", "id")
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(
                fields=("stock_item", "number"), name="inventory_batch_unique_number"
            ),
            models.CheckConstraint(
                condition=~Q(number=""), name="inventory_batch_number_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["expires_on"], name="inventory_batch_expires_on")]

    def __str__(self):
        return f"Batch {self.number}"


class Reservation(models.Model):
    """Units of a stock item promised to one order (by reference) until it is paid or expires."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        COMMITTED = "committed", "Committed"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()
    reference = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="inventory_reservation_quantity_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["active", "committed", "released", "expired"]),
                name="inventory_reservation_state_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["reference", "state"], name="inventory_res_reference"),
            models.Index(
                fields=["expires_at"],
                name="inventory_res_active_expiry",
                condition=Q(state="active"),
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.stock_item.product} for {self.reference} ({self.state})"


class StockMovementQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The stock ledger is append-only; rows cannot be updated.")

    def delete(self):
        raise TypeError("The stock ledger is append-only; rows cannot be deleted.")


class StockMovement(models.Model):
    """One row of the append-only stock ledger; the counters always equal its sums."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        ADJUSTMENT = "adjustment", "Adjustment"
        RESERVATION = "reservation", "Reservation"
        RELEASE = "release", "Release"
        COMMIT = "commit", "Commit"
        RETURN = "return", "Return"
        EXPIRY = "expiry", "Expiry"

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    delta_on_hand = models.IntegerField(default=0)
    delta_reserved = models.IntegerField(default=0)
    reference = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=255, blank=True)
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = StockMovementQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=~Q(delta_on_hand=0) | ~Q(delta_reserved=0),
                name="inventory_movement_changes_something",
            ),
        ]
        indexes = [
            models.Index(fields=["stock_item", "-created_at"], name="inventory_mov_item_created"),
            # Reports sum the ledger over a date range: an index-only scan, never the table.
            models.Index(
                fields=["created_at"],
                include=["stock_item", "kind", "delta_on_hand", "delta_reserved"],
                name="inventory_mov_created_cover",
            ),
        ]

    def __str__(self):
        deltas = f"{self.delta_on_hand:+d}/{self.delta_reserved:+d}"
        return f"{self.get_kind_display()} {deltas} · {self.stock_item.product}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("The stock ledger is append-only; rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The stock ledger is append-only; rows cannot be deleted.")


class StockAlert(models.Model):
    """A staff alert about one stock item; at most one per item and kind is open at a time."""

    class Kind(models.TextChoices):
        LOW_STOCK = "low_stock", "Low stock"
        OUT_OF_STOCK = "out_of_stock", "Out of stock"
        BATCH_EXPIRING = "batch_expiring", "Batch expiring"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLOSED = "closed", "Closed"

    # "Open" in the sense of the uniqueness rule: not yet resolved, acknowledged or not.
    UNRESOLVED = (State.OPEN, State.ACKNOWLEDGED)

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    message = models.CharField(max_length=255, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-opened_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("stock_item", "kind"),
                condition=Q(state__in=["open", "acknowledged"]),
                name="inventory_alert_one_open_per_item_kind",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["open", "acknowledged", "closed"]),
                name="inventory_alert_state_valid",
            ),
        ]
        indexes = [models.Index(fields=["state", "-opened_at"], name="inventory_alert_state")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.stock_item.product} ({self.state})"

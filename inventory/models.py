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
        constraints = [
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="inventory_on_hand_gte_0"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="inventory_reserved_gte_0"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="inventory_reserved_lte_on_hand"
            ),
        ]

    def __str__(self):
        return f"Stock of product {self.product_id}"

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)

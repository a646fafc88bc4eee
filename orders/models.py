from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django_countries import countries
from django_countries.fields import CountryField


class Cart(models.Model):
    """A shopper's cart: one per user, or one per anonymous web session (user empty)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="cart",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Cart {self.pk} of {self.user or 'a guest'}"


MAX_LINE_QUANTITY = 1000


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.CASCADE, related_name="cart_items"
    )
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("added_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("cart", "product"), name="orders_cartitem_one_per_product"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_LINE_QUANTITY),
                name="orders_cartitem_quantity_1_to_1000",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.product}"


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "Pending payment"
    PAID = "paid", "Paid"
    PROCESSING = "processing", "Processing"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"


class ShippingMethod(models.Model):
    """A way to ship an order, edited by staff; the cheapest usable one is the default."""

    name = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    free_over = models.DecimalField(
        "free over",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Orders with a subtotal at or above this ship free. Empty: never free.",
    )
    countries = CountryField(
        multiple=True, blank=True, help_text="Where it ships to. Empty: every country."
    )
    delivery_estimate = models.CharField(
        max_length=100, blank=True, help_text='Shown to shoppers, e.g. "2-4 working days".'
    )
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0, help_text="Lower comes first.")

    class Meta:
        ordering = ("position", "price", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0), name="orders_shippingmethod_price_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(free_over__isnull=True) | Q(free_over__gte=0),
                name="orders_shippingmethod_free_over_gte_0",
            ),
        ]

    def __str__(self):
        return self.name

    def ships_to(self, country: str) -> bool:
        return not self.countries or country in {c.code for c in self.countries}

    def price_for(self, subtotal: Decimal) -> Decimal:
        """Return what this method charges for a cart with that subtotal."""
        if self.free_over is not None and subtotal >= self.free_over:
            return Decimal("0.00")
        return self.price


class Address(models.Model):
    """An address in a shopper's address book; at most one is their default."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses"
    )
    full_name = models.CharField(max_length=200)
    line1 = models.CharField("address", max_length=200)
    line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=12)
    country = CountryField()
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-is_default", "-created_at", "-id")
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=("user",),
                condition=Q(is_default=True),
                name="orders_address_one_default_per_user",
            ),
        ]

    def __str__(self):
        return (
            f"{self.full_name}, {self.line1}, {self.postal_code} {self.city}, {self.country.name}"
        )

    def as_shipping_address(self) -> dict:
        """Return the address in the shape checkout takes."""
        return {
            "full_name": self.full_name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "postal_code": self.postal_code,
            "country": self.country.code,
        }


class Order(models.Model):
    """A placed order: prices, names and the address are snapshots taken at checkout.

    `user` is empty for a guest's order; the guest reaches it through a signed link.
    """

    Status = OrderStatus

    number = models.CharField(max_length=20, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    email = models.EmailField(max_length=254)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT
    )
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    shipping_method = models.ForeignKey(
        ShippingMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Snapshot of the method's name at checkout (its price is `shipping`).
    shipping_method_name = models.CharField(max_length=100, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    shipping_address = models.JSONField()
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    reservation_expires_at = models.DateTimeField(null=True, blank=True)
    # Set while a payment moves money for this order (its phase 1 to phase 3): the order
    # is neither cancelled nor expired meanwhile. See orders.services (lock order).
    payment_started_at = models.DateTimeField(null=True, blank=True)
    # Money given back on the payment that paid this order (payments tells orders).
    refunded_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-placed_at", "-id")
        permissions = [("transition_order", "Can move an order along its lifecycle")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="orders_order_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(shipping__gte=0),
                name="orders_order_amounts_gte_0",
            ),
            models.CheckConstraint(
                # Rounded so SQLite's float arithmetic (make run) agrees with exact decimals.
                condition=Q(total=Round(F("subtotal") + F("shipping"), 2)),
                name="orders_order_total_is_subtotal_plus_shipping",
            ),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0) & Q(refunded_total__lte=F("total")),
                name="orders_order_refunded_within_total",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-placed_at", "-id"], name="orders_order_user_placed"),
            models.Index(fields=["status", "-placed_at"], name="orders_order_status_placed"),
            models.Index(fields=["-placed_at", "-id"], name="orders_order_placed"),
        ]

    def __str__(self):
        return f"Order {self.number}"

    @property
    def is_guest(self) -> bool:
        return self.user_id is None

    @property
    def shipping_country_name(self) -> str:
        code = (self.shipping_address or {}).get("country", "")
        return countries.name(code) or code


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order_lines",
    )
    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_LINE_QUANTITY),
                name="orders_orderline_quantity_1_to_1000",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="orders_orderline_unit_price_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(line_total=Round(F("unit_price") * F("quantity"), 2)),
                name="orders_orderline_total_is_price_times_quantity",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.name}"


SHOPPER_NOTES = {
    OrderStatus.PENDING_PAYMENT: "We received your order and are holding the items for you.",
    OrderStatus.PAID: "Payment received. Thank you!",
    OrderStatus.PROCESSING: "We are packing your order.",
    OrderStatus.SHIPPED: "Your order is on its way.",
    OrderStatus.DELIVERED: "Your order was delivered.",
    OrderStatus.EXPIRED: (
        "The order was cancelled because the payment did not arrive in time. Nothing was charged."
    ),
    OrderStatus.REFUNDED: "Your payment was refunded.",
    OrderStatus.PARTIALLY_REFUNDED: "Part of your payment was refunded.",
}


class OrderEvent(models.Model):
    """One step of an order's history; `from_status` is empty for the order being placed."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, blank=True, choices=OrderStatus.choices)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()
    # Set once the shopper has been emailed about this step, so a repeated task sends nothing.
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("at", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(to_status__in=OrderStatus.values), name="orders_event_to_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.order.number}: {self.from_status or '-'} -> {self.to_status}"

    @property
    def shopper_note(self) -> str:
        """Return what this step means, in words for the shopper (`note` is for staff)."""
        if self.to_status == OrderStatus.CANCELLED:
            if self.from_status == OrderStatus.PENDING_PAYMENT:
                return "The order was cancelled. Nothing was charged."
            return "The order was cancelled. Your payment is being refunded."
        return SHOPPER_NOTES.get(self.to_status, "")


class IdempotencyRecord(models.Model):
    """A checkout request's Idempotency-Key: one order per (user, key), tied to its body."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    # Empty only inside the checkout transaction that is making the order.
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="idempotency"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "key"), name="orders_idempotency_user_key"),
        ]

    def __str__(self):
        return f"{self.key} -> {self.order_id}"

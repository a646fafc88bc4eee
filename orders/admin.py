from django.contrib import admin, messages

from . import services
from .errors import InvalidTransition
from .models import Cart, CartItem, Order, OrderEvent, OrderLine, OrderStatus


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ("product", "sku", "name", "unit_price", "quantity", "line_total")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    ordering = ("at", "id")

    def has_add_permission(self, request, obj=None):
        return False


def _transition_action(to_status: str, description: str):
    def action(modeladmin, request, queryset):
        moved, refused = 0, []
        for order in queryset.order_by("pk"):
            try:
                services.order_transition(
                    order=order, to_status=to_status, actor=request.user, note="Changed in admin."
                )
                moved += 1
            except InvalidTransition:
                refused.append(f"{order.number} ({order.get_status_display()})")
        if moved:
            modeladmin.message_user(request, f"{moved} order(s) marked {to_status}.")
        if refused:
            modeladmin.message_user(
                request,
                f"Not allowed from their status: {', '.join(refused)}.",
                level=messages.WARNING,
            )

    action.__name__ = f"mark_{to_status}"
    return admin.action(description=description)(action)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "email", "status", "total", "currency", "placed_at", "paid_at")
    list_filter = ("status", "placed_at")
    search_fields = ("number", "email")
    date_hierarchy = "placed_at"
    ordering = ("-placed_at", "-id")
    inlines = (OrderLineInline, OrderEventInline)
    readonly_fields = (
        "number",
        "user",
        "email",
        "status",
        "subtotal",
        "shipping",
        "total",
        "currency",
        "shipping_address",
        "placed_at",
        "paid_at",
        "reservation_expires_at",
        "updated_at",
    )
    list_select_related = ("user",)
    actions = (
        _transition_action(OrderStatus.PROCESSING, "Mark selected orders processing"),
        _transition_action(OrderStatus.SHIPPED, "Mark selected orders shipped"),
        _transition_action(OrderStatus.DELIVERED, "Mark selected orders delivered"),
        _transition_action(
            OrderStatus.CANCELLED, "Cancel selected orders (paid ones are refunded)"
        ),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at", "updated_at")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    inlines = (CartItemInline,)


# ------------------------------------------------------------------------------
# Shipping methods and address books
# ------------------------------------------------------------------------------
from .models import Address, ShippingMethod  # noqa: E402  (kept with its block)


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ("name", "price", "free_over", "delivery_estimate", "active", "position")
    list_editable = ("active", "position")
    list_filter = ("active",)
    search_fields = ("name",)


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("user", "full_name", "city", "country", "is_default")
    list_filter = ("is_default",)
    search_fields = ("user__email", "full_name", "city", "postal_code")
    raw_id_fields = ("user",)

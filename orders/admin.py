"""The order desk: an order's lines, history and address, and its lifecycle as buttons.

Every change goes through `services.order_transition` after a confirmation page, and needs
`orders.transition_order`. Apps above orders (payments) add their own inlines, buttons and
pages to the order page through `OrderAdmin.extend` (orders never imports them).
"""

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV

from accounts.permissions import PermissionMissing

from . import services
from .errors import InvalidTransition, PaymentInProgress
from .models import Cart, CartItem, Order, OrderEvent, OrderLine, OrderStatus
from .resources import OrderResource

S = OrderStatus
TRANSITION_PERMISSION = "orders.transition_order"


@dataclass(frozen=True)
class DeskStep:
    to_status: str
    label: str
    consequence: str


# The steps staff take by hand, in the order the buttons appear. Paying, expiring and the
# refund statuses follow from payments and reservations, so they are not buttons.
DESK_STEPS = (
    DeskStep(S.PROCESSING, "Start processing", "The order is being packed; nothing is sent."),
    DeskStep(S.SHIPPED, "Mark shipped", "The shopper is emailed that the order is on its way."),
    DeskStep(S.DELIVERED, "Mark delivered", "The shopper is emailed that it arrived."),
    DeskStep(S.CANCELLED, "Cancel order", ""),
)
STEPS = {step.to_status: step for step in DESK_STEPS}


def step_consequence(order: Order, to_status: str) -> str:
    """Say what moving this order to `to_status` will do, for the confirmation page."""
    if to_status != S.CANCELLED:
        return STEPS[to_status].consequence
    if order.status == S.PENDING_PAYMENT:
        return "The stock held for it goes back on the shelf; the shopper is emailed."
    return (
        "The goods go back on the shelf and what was paid is refunded in full; "
        "the shopper is emailed."
    )


def desk_steps(order: Order) -> list[DeskStep]:
    return [
        step
        for step in DESK_STEPS
        if services.transition_allowed(from_status=order.status, to_status=step.to_status)
    ]


@dataclass(frozen=True)
class DeskButton:
    label: str
    url: str


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ("sku", "name", "unit_price", "quantity", "line_total")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    ordering = ("at", "id")
    verbose_name_plural = "history"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TransitionForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Optional; kept in the order's history.",
    )


def _transition_action(step: DeskStep):
    def action(modeladmin, request, queryset):
        return modeladmin.bulk_transition(request, queryset, step)

    action.__name__ = f"mark_{step.to_status}"
    description = {
        S.CANCELLED: "Cancel selected orders (paid ones are refunded)…",
    }.get(step.to_status, f"{step.label} for the selected orders…")
    return admin.action(description=description, permissions=["transition"])(action)


@admin.register(Order)
class OrderAdmin(ExportMixin, admin.ModelAdmin):
    list_display = ("number", "email", "status", "total_with_currency", "placed_at", "paid_at")
    list_filter = ("status", "placed_at")
    search_fields = ("number", "email")
    date_hierarchy = "placed_at"
    ordering = ("-placed_at", "-id")
    inlines = (OrderLineInline, OrderEventInline)
    fieldsets = (
        (None, {"fields": ("number", "status", "user", "email")}),
        ("Money", {"fields": ("subtotal", "shipping", "total_with_currency")}),
        ("Shipping address", {"fields": ("address",)}),
        ("Dates", {"fields": ("placed_at", "paid_at", "reservation_expires_at", "updated_at")}),
    )
    readonly_fields = (
        "number",
        "status",
        "user",
        "email",
        "subtotal",
        "shipping",
        "total_with_currency",
        "address",
        "placed_at",
        "paid_at",
        "reservation_expires_at",
        "updated_at",
    )
    list_select_related = ("user",)
    change_form_template = "orders/admin/order_change_form.html"
    actions = tuple(_transition_action(step) for step in DESK_STEPS)
    resource_classes = (OrderResource,)
    export_formats = (CSV,)

    # Inlines, buttons and pages that apps above orders add (see `extend`).
    extensions: list = []

    @classmethod
    def extend(cls, extension) -> None:
        """Add an object with `inlines`, `buttons(request, order)` and `urls(model_admin)`."""
        if extension not in cls.extensions:
            cls.extensions.append(extension)

    # -- permissions: nothing on the order is edited by hand -----------------------------
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_transition_permission(self, request, obj=None):
        return request.user.has_perm(TRANSITION_PERMISSION)

    # -- display -------------------------------------------------------------------------
    @admin.display(description="Total", ordering="total")
    def total_with_currency(self, order):
        return f"{order.total} {order.currency}"

    @admin.display(description="Address")
    def address(self, order):
        """The address as it goes on a parcel, one line each (blank parts left out)."""
        data = order.shipping_address if isinstance(order.shipping_address, dict) else {}
        city = " ".join(p for p in (data.get("postal_code"), data.get("city")) if p)
        parts = (
            data.get("full_name"),
            data.get("line1"),
            data.get("line2"),
            city,
            data.get("region"),
            data.get("country"),
            data.get("phone"),
        )
        return "\n".join(str(p) for p in parts if p) or "-"

    def get_inlines(self, request, obj):
        extra = [inline for ext in self.extensions for inline in getattr(ext, "inlines", ())]
        return (*self.inlines, *extra)

    def desk_buttons(self, request, order) -> list[DeskButton]:
        buttons = []
        if self.has_transition_permission(request, order):
            buttons += [
                DeskButton(
                    step.label,
                    reverse("admin:orders_order_transition", args=[order.pk, step.to_status]),
                )
                for step in desk_steps(order)
            ]
        for ext in self.extensions:
            buttons += ext.buttons(request, order)
        return buttons

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if order is not None:
            extra_context["desk_buttons"] = self.desk_buttons(request, order)
        return super().change_view(request, object_id, form_url, extra_context)

    # -- pages ---------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        extra = [url for ext in self.extensions for url in ext.urls(self)]
        return [
            path(
                "<int:pk>/transition/<slug:to_status>/",
                view(self.transition_view),
                name="orders_order_transition",
            ),
            *extra,
            *super().get_urls(),
        ]

    def desk_context(self, request, order, title, **extra):
        """The context every desk page of one order needs (breadcrumbs, admin chrome)."""
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": order,
            "order": order,
            "title": title,
            **extra,
        }

    def transition_view(self, request, pk, to_status):
        order = get_object_or_404(Order, pk=pk)
        if not self.has_transition_permission(request, order):
            raise PermissionDenied
        step = STEPS.get(to_status)
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        if step is None or step not in desk_steps(order):
            self.message_user(
                request,
                f"Order {order.number} cannot go from {order.get_status_display().lower()} "
                f"to {to_status}.",
                messages.ERROR,
            )
            return redirect(change_url)
        form = TransitionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.order_transition_by_staff(
                    order=order,
                    to_status=step.to_status,
                    actor=request.user,
                    note=form.cleaned_data["note"] or f"{step.label} (admin).",
                )
            except (InvalidTransition, PaymentInProgress, PermissionMissing) as exc:
                self.message_user(request, f"Order {order.number}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Order {order.number} is now {order.get_status_display().lower()}.",
                    messages.SUCCESS,
                )
            return redirect(change_url)
        context = self.desk_context(
            request,
            order,
            f"{step.label}: order {order.number}?",
            step=step,
            to_label=S(step.to_status).label,
            consequence=step_consequence(order, step.to_status),
            form=form,
            change_url=change_url,
        )
        return TemplateResponse(request, "orders/admin/transition_confirm.html", context)

    def bulk_transition(self, request, queryset, step: DeskStep):
        """Show what will change; apply it when the page is confirmed."""
        orders = list(queryset.order_by("pk"))
        movable = [
            o
            for o in orders
            if services.transition_allowed(from_status=o.status, to_status=step.to_status)
        ]
        refused = [o for o in orders if o not in movable]
        form = TransitionForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            moved, failed, forbidden = 0, [], []
            for order in movable:
                try:
                    services.order_transition_by_staff(
                        order=order,
                        to_status=step.to_status,
                        actor=request.user,
                        note=form.cleaned_data["note"] or "Changed in admin.",
                    )
                    moved += 1
                except (InvalidTransition, PaymentInProgress):
                    failed.append(f"{order.number} ({order.get_status_display()})")
                except PermissionMissing as exc:
                    forbidden.append(order.number)
                    refusal = str(exc)
            if forbidden:
                self.message_user(
                    request, f"Not changed: {', '.join(forbidden)}. {refusal}", messages.ERROR
                )
            failed += [f"{o.number} ({o.get_status_display()})" for o in refused]
            if moved:
                self.message_user(request, f"{moved} order(s) marked {step.to_status}.")
            if failed:
                self.message_user(
                    request,
                    f"Not allowed from their status: {', '.join(failed)}.",
                    level=messages.WARNING,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{step.label}: {len(movable)} of {len(orders)} selected order(s)",
            "step": step,
            "to_label": S(step.to_status).label,
            "movable": [(o, step_consequence(o, step.to_status)) for o in movable],
            "refused": refused,
            "form": form,
            "queryset": orders,
            "action": request.POST.get("action", f"mark_{step.to_status}"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "orders/admin/bulk_transition_confirm.html", context)


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

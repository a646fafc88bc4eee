"""Admin for stock: levels with their read-only ledger, receive/adjust pages, alerts."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ExportMixin, ImportExportMixin
from import_export.formats.base_formats import CSV

from catalog.admin import ProductAdmin
from catalog.models import Product
from catalog.resources import ProductResource

from . import services
from .errors import InventoryError
from .forms import StockAdjustForm, StockReceiveForm
from .models import Batch, Reservation, StockAlert, StockItem, StockMovement
from .resources import StockCountResource, StockLevelResource, StockMovementResource


class StockLevelFilter(admin.SimpleListFilter):
    """Out of stock (nothing available), low (at or below the threshold) or in stock."""

    title = "stock"
    parameter_name = "stock"
    prefix = ""  # the path from the listed model to its StockItem ("" or "stock__")

    def lookups(self, request, model_admin):
        return (("out", "Out of stock"), ("low", "Low"), ("in", "In stock"))

    def queryset(self, request, queryset):
        p = self.prefix
        queryset = queryset.alias(_available=F(f"{p}on_hand") - F(f"{p}reserved"))
        out = Q(_available__lte=0)
        if p:  # a product without a stock item has nothing to sell
            out |= Q(stock__isnull=True)
        low = Q(_available__gt=0, _available__lte=F(f"{p}low_stock_threshold"))
        if self.value() == "out":
            return queryset.filter(out)
        if self.value() == "low":
            return queryset.filter(low)
        if self.value() == "in":
            return queryset.filter(_available__gt=F(f"{p}low_stock_threshold"))
        return queryset


class ProductStockLevelFilter(StockLevelFilter):
    prefix = "stock__"


def stock_summary(item) -> str:
    return f"{item.on_hand} on hand · {item.available} available"


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StockMovementInline(ReadOnlyInline):
    model = StockMovement
    fields = (
        "created_at",
        "kind",
        "delta_on_hand",
        "delta_reserved",
        "reference",
        "note",
        "batch",
        "actor",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    verbose_name_plural = "ledger (append-only)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("batch", "actor")


class BatchInline(ReadOnlyInline):
    model = Batch
    fields = ("number", "expires_on", "quantity_received", "received_at")
    readonly_fields = fields


class ActiveReservationInline(ReadOnlyInline):
    model = Reservation
    fields = ("reference", "quantity", "expires_at", "state", "created_at")
    readonly_fields = fields
    verbose_name_plural = "active reservations"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=Reservation.State.ACTIVE)


@admin.register(StockItem)
class StockItemAdmin(ImportExportMixin, admin.ModelAdmin):
    list_display = (
        "product",
        "on_hand",
        "reserved",
        "available_units",
        "low_stock_threshold",
        "stock_links",
    )
    list_filter = (StockLevelFilter,)
    list_select_related = ("product",)
    search_fields = ("product__name", "product__sku")
    autocomplete_fields = ("product",)
    ordering = ("product__name",)
    inlines = (ActiveReservationInline, BatchInline, StockMovementInline)
    change_form_template = "inventory/admin/stockitem_change_form.html"
    actions = ("evaluate_alerts",)
    import_formats = export_formats = (CSV,)

    def get_import_resource_classes(self, request):
        return [StockCountResource]

    def get_export_resource_classes(self, request):
        return [StockLevelResource]

    def has_import_permission(self, request):
        """A stock count adjusts stock: it needs the right to adjust it."""
        return request.user.has_perm("inventory.adjust_stock")

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("product", "low_stock_threshold")
        return ("product", "on_hand", "reserved", "available_units", "low_stock_threshold")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("product", "on_hand", "reserved", "available_units")

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, item):
        return item.product.sku

    @admin.display(description="available")
    def available_units(self, item):
        return item.available

    def get_list_display(self, request):
        if self.has_adjust_permission(request):
            return self.list_display
        return tuple(name for name in self.list_display if name != "stock_links")

    def has_adjust_permission(self, request):
        return request.user.has_perm("inventory.adjust_stock")

    def has_alerts_permission(self, request):
        return request.user.has_perm("inventory.change_stockalert")

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_adjust_stock"] = self.has_adjust_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="")
    def stock_links(self, item):
        return format_html(
            '<a href="{}">Receive</a> · <a href="{}">Adjust</a>',
            reverse("admin:inventory_stockitem_receive", args=[item.pk]),
            reverse("admin:inventory_stockitem_adjust", args=[item.pk]),
        )

    def save_model(self, request, obj, form, change):
        """Counters change only through services; the form edits the threshold alone."""
        threshold = form.cleaned_data["low_stock_threshold"]
        item = obj if change else services.stock_item_for_product(product=obj.product)
        services.stock_threshold_set(stock_item=item, low_stock_threshold=threshold)
        if not change:
            obj.pk, obj._state.adding = item.pk, False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(
        description="Re-evaluate stock alerts of the selected items", permissions=("alerts",)
    )
    def evaluate_alerts(self, request, queryset):
        counts = services.stock_alerts_evaluate(
            stock_item_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(
            request, f"Alerts opened: {counts['opened']}, closed: {counts['closed']}."
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/receive/", view(self.receive_view), name="inventory_stockitem_receive"),
            path("<int:pk>/adjust/", view(self.adjust_view), name="inventory_stockitem_adjust"),
            *super().get_urls(),
        ]

    def receive_view(self, request, pk):
        return self._stock_form_view(
            request,
            pk,
            form_class=StockReceiveForm,
            title="Receive stock",
            apply=lambda item, data: services.stock_receive(
                stock_item=item, actor=request.user, **data
            ),
            done="Received {quantity} unit(s).",
        )

    def adjust_view(self, request, pk):
        return self._stock_form_view(
            request,
            pk,
            form_class=StockAdjustForm,
            title="Adjust stock",
            apply=lambda item, data: services.stock_adjust(
                stock_item=item, actor=request.user, **data
            ),
            done="Adjusted on hand by {delta:+d}.",
        )

    def _stock_form_view(self, request, pk, *, form_class, title, apply, done):
        if not self.has_adjust_permission(request):
            raise PermissionDenied("Receiving and adjusting stock needs inventory.adjust_stock.")
        item = get_object_or_404(StockItem.objects.select_related("product"), pk=pk)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                apply(item, form.cleaned_data)
            except InventoryError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, done.format(**form.cleaned_data), messages.SUCCESS)
                return redirect("admin:inventory_stockitem_change", item.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": item,
            "title": f"{title}: {item.product}",
            "form": form,
            "item": item,
        }
        return TemplateResponse(request, "inventory/admin/stock_form.html", context)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockMovement)
class StockMovementAdmin(ExportMixin, ReadOnlyAdmin):
    """The ledger: nobody adds, changes or deletes rows here."""

    resource_classes = (StockMovementResource,)
    export_formats = (CSV,)

    list_display = ("created_at", "product", "kind", "change", "reference", "note", "actor")
    list_filter = ("kind", "created_at")
    search_fields = ("reference", "stock_item__product__sku", "stock_item__product__name")
    list_select_related = ("stock_item__product", "actor")

    @admin.display(ordering="stock_item__product__name")
    def product(self, movement):
        return movement.stock_item.product

    @admin.display(description="on hand / reserved")
    def change(self, movement):
        return f"{movement.delta_on_hand:+d} / {movement.delta_reserved:+d}"

    date_hierarchy = "created_at"


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("reference", "stock_item", "quantity", "state", "expires_at", "created_at")
    list_filter = ("state",)
    search_fields = ("reference",)
    list_select_related = ("stock_item__product",)


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ("number", "stock_item", "expires_on", "quantity_received", "received_at")
    list_filter = ("expires_on",)
    search_fields = ("number", "stock_item__product__sku")
    list_select_related = ("stock_item__product",)


@admin.register(StockAlert)
class StockAlertAdmin(ReadOnlyAdmin):
    list_display = ("opened_at", "product", "kind", "state", "message", "closed_at")
    list_filter = ("state", "kind")
    search_fields = ("stock_item__product__name", "stock_item__product__sku")
    list_select_related = ("stock_item__product",)
    actions = ("acknowledge",)

    @admin.display(ordering="stock_item__product__name")
    def product(self, alert):
        return alert.stock_item.product

    def has_acknowledge_permission(self, request):
        return request.user.has_perm("inventory.change_stockalert")

    @admin.action(description="Acknowledge the selected alerts", permissions=("acknowledge",))
    def acknowledge(self, request, queryset):
        count = 0
        for alert in queryset.filter(state=StockAlert.State.OPEN):
            services.stock_alert_acknowledge(alert=alert, actor=request.user)
            count += 1
        self.message_user(request, f"{count} alert(s) acknowledged.")


# The product list and page show each product's stock (inventory sits above catalog, so it
# extends the catalog's admin from here).
admin.site.unregister(Product)


@admin.register(Product)
class ProductStockAdmin(ImportExportMixin, ProductAdmin):
    list_display = (
        *(c for c in ProductAdmin.list_display if c != "created_at"),
        "stock_level",
    )
    list_filter = (ProductStockLevelFilter, *ProductAdmin.list_filter)
    list_select_related = (*ProductAdmin.list_select_related, "stock")
    readonly_fields = (*ProductAdmin.readonly_fields, "stock_level")
    resource_classes = (ProductResource,)
    import_formats = export_formats = (CSV,)

    def has_import_permission(self, request):
        """An import adds new SKUs and changes existing ones."""
        return request.user.has_perms(["catalog.add_product", "catalog.change_product"])

    @admin.display(description="Stock")
    def stock_level(self, product):
        item = getattr(product, "stock", None) if product.pk else None
        if item is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:inventory_stockitem_change", args=[item.pk]),
            stock_summary(item),
        )

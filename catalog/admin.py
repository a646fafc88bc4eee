from django.contrib import admin

from . import services
from .models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent", "position")
    list_filter = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    list_select_related = ("parent",)
    ordering = ("parent__name", "position", "name")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "sku", "category", "price", "active", "created_at")
    list_filter = ("active", "category", "created_at")
    search_fields = ("name", "sku", "slug")
    prepopulated_fields = {"slug": ("name",)}
    list_select_related = ("category",)
    list_editable = ("active",)
    readonly_fields = ("thumbnail", "created_at", "updated_at")
    autocomplete_fields = ("category",)
    date_hierarchy = "created_at"
    actions = ("activate", "deactivate")

    @admin.action(description="Activate selected products", permissions=("change",))
    def activate(self, request, queryset):
        ids = queryset.values_list("pk", flat=True)
        updated = services.products_set_active(product_ids=ids, active=True)
        self.message_user(request, f"{updated} product(s) activated.")

    @admin.action(description="Deactivate selected products", permissions=("change",))
    def deactivate(self, request, queryset):
        ids = queryset.values_list("pk", flat=True)
        updated = services.products_set_active(product_ids=ids, active=False)
        self.message_user(request, f"{updated} product(s) deactivated.")

"""Catalog admin: every write goes through catalog.services (cycle checks, thumbnails)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from . import services
from .models import Category, Product


def _form_fields(form, *, changed_only: bool) -> dict:
    """Return the form's cleaned values to hand to a service (a cleared file becomes "")."""
    names = form.changed_data if changed_only else list(form.cleaned_data)
    fields = {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}
    return {name: ("" if value is False else value) for name, value in fields.items()}


def _adopt(obj, saved) -> None:
    """Make the admin's object the one the service saved (the admin logs and redirects on it)."""
    obj.__dict__.update(saved.__dict__)


class CategoryAdminForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ("name", "slug", "parent", "description", "position")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None and "parent" in cleaned:
            try:
                services.category_check_parent(category=self.instance, parent=cleaned["parent"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ("name", "slug", "parent", "position")
    list_filter = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    list_select_related = ("parent",)
    ordering = ("parent__name", "position", "name")

    def save_model(self, request, obj, form, change):
        if change:
            original = Category.objects.get(pk=obj.pk)
            saved = services.category_update(
                category=original, **_form_fields(form, changed_only=True)
            )
        else:
            saved = services.category_create(**_form_fields(form, changed_only=False))
        _adopt(obj, saved)

    def delete_model(self, request, obj):
        services.category_delete(category=obj)

    def delete_queryset(self, request, queryset):
        for category in queryset:
            services.category_delete(category=category)


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

    def save_model(self, request, obj, form, change):
        if change:
            original = Product.objects.get(pk=obj.pk)
            saved = services.product_update(
                product=original, **_form_fields(form, changed_only=True)
            )
        else:
            saved = services.product_create(**_form_fields(form, changed_only=False))
        _adopt(obj, saved)

    def delete_model(self, request, obj):
        services.product_delete(product=obj)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            services.product_delete(product=product)

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

"""CSV import and export of products (django-import-export), matched on the SKU."""

from django.utils.text import slugify
from import_export import fields, resources, widgets

from .models import Category, Product


class ProductResource(resources.ModelResource):
    category = fields.Field(
        attribute="category",
        column_name="category",
        widget=widgets.ForeignKeyWidget(Category, field="slug"),
    )

    class Meta:
        model = Product
        fields = ("sku", "name", "slug", "description", "category", "price", "active")
        export_order = fields
        import_id_fields = ("sku",)
        clean_model_instances = True  # the model's validation, row by row, before saving
        skip_unchanged = True
        report_skipped = True

    def before_import_row(self, row, **kwargs):
        for name in ("sku", "name", "slug"):
            if row.get(name) is not None:
                row[name] = str(row[name]).strip()

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if not instance.slug and instance.name:
            base = slugify(instance.name)[:140] or slugify(instance.sku)
            taken = Product.objects.filter(slug=base).exclude(pk=instance.pk).exists()
            instance.slug = f"{base}-{slugify(instance.sku)}"[:160] if taken else base

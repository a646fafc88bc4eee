from rest_framework import serializers

from .models import Category, Product


class CategorySerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(max_length=140, required=False)

    class Meta:
        model = Category
        fields = ("id", "name", "slug", "parent")


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), allow_null=True, required=False
    )
    slug = serializers.SlugField(max_length=160, required=False)
    available = serializers.SerializerMethodField()
    # Uploaded on its own (multipart): POST products/{slug}/image/.
    image = serializers.ImageField(read_only=True, allow_null=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)

    class Meta:
        model = Product
        fields = ("id", "sku", "slug", "name", "price", "category", "available", "image")

    def get_available(self, product) -> int:
        return getattr(product, "available", 0)


class ProductDetailSerializer(ProductSerializer):
    class Meta(ProductSerializer.Meta):
        fields = (*ProductSerializer.Meta.fields, "description", "active", "created_at")
        read_only_fields = ("created_at",)


class ProductImageSerializer(serializers.Serializer):
    image = serializers.ImageField(help_text="A JPEG, PNG or WebP picture of the product.")

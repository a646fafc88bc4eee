from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import routers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.openapi import api_errors
from accounts.permissions import require_perms, require_perms_by_method

from . import selectors, services
from .errors import CategoryInUse, ProductInUse
from .filters import ProductFilter
from .pagination import ProductPagination
from .serializers import (
    CategorySerializer,
    ProductDetailSerializer,
    ProductImageSerializer,
    ProductSerializer,
)


def _writes(model: str) -> type:
    """Anyone reads; writing needs catalog.add_/change_/delete_<model>."""
    return require_perms_by_method(
        {
            "POST": [f"catalog.add_{model}"],
            "PATCH": [f"catalog.change_{model}"],
            "DELETE": [f"catalog.delete_{model}"],
        },
        safe_allowed=True,
    )


@extend_schema_view(destroy=extend_schema(responses={204: None, **api_errors(CategoryInUse)}))
class CategoryViewSet(viewsets.ModelViewSet):
    """Categories as a flat, tree-friendly list; staff write."""

    serializer_class = CategorySerializer
    permission_classes = (_writes("category"),)
    lookup_field = "slug"
    filter_backends = ()
    pagination_class = None
    http_method_names = ("get", "post", "patch", "delete", "head", "options")

    def get_queryset(self):
        return selectors.category_list()

    def perform_create(self, serializer):
        serializer.instance = services.category_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.category_update(
            category=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.category_delete(category=instance)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("page_size", int, description="Items per page, up to 100")]
    ),
    destroy=extend_schema(responses={204: None, **api_errors(ProductInUse)}),
)
class ProductViewSet(viewsets.ModelViewSet):
    """Products: anyone reads active ones; staff with catalog.view_product read all."""

    permission_classes = (_writes("product"),)
    lookup_field = "slug"
    filter_backends = (DjangoFilterBackend,)
    filterset_class = ProductFilter
    pagination_class = ProductPagination
    http_method_names = ("get", "post", "patch", "delete", "head", "options")

    def get_queryset(self):
        return selectors.product_list(include_inactive=selectors.sees_inactive(self.request.user))

    def get_serializer_class(self):
        return ProductSerializer if self.action == "list" else ProductDetailSerializer

    def perform_create(self, serializer):
        serializer.instance = services.product_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.product_update(
            product=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.product_delete(product=instance)

    @extend_schema(
        summary="Upload a product's image (staff)",
        request={"multipart/form-data": ProductImageSerializer},
        responses={200: ProductDetailSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        parser_classes=[MultiPartParser],
        permission_classes=[require_perms("catalog.change_product")],
    )
    def image(self, request, slug=None):
        """Replace the product's image (the only multipart upload of the API)."""
        product = self.get_object()
        data = ProductImageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_update(product=product, image=data.validated_data["image"])
        return Response(ProductDetailSerializer(product).data)


router = routers.SimpleRouter()
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")

urlpatterns = router.urls

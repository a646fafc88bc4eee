from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, routers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.openapi import api_errors

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


class IsStaffOrReadOnly(permissions.BasePermission):
    anonymous_read = True  # the schema marks reads as needing no login (config.schema)

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


def _is_staff(request) -> bool:
    return bool(request.user and request.user.is_authenticated and request.user.is_staff)


@extend_schema_view(destroy=extend_schema(responses={204: None, **api_errors(CategoryInUse)}))
class CategoryViewSet(viewsets.ModelViewSet):
    """Categories as a flat, tree-friendly list; staff write."""

    serializer_class = CategorySerializer
    permission_classes = (IsStaffOrReadOnly,)
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
    """Products: anyone reads active ones, staff read all and write."""

    permission_classes = (IsStaffOrReadOnly,)
    lookup_field = "slug"
    filter_backends = (DjangoFilterBackend,)
    filterset_class = ProductFilter
    pagination_class = ProductPagination
    http_method_names = ("get", "post", "patch", "delete", "head", "options")

    def get_queryset(self):
        return selectors.product_list(include_inactive=_is_staff(self.request))

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
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
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

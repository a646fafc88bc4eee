from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import routers, viewsets
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from accounts.permissions import require_perms_by_method

from . import selectors, services
from .filters import ProductFilter
from .pagination import ProductPagination
from .serializers import CategorySerializer, ProductDetailSerializer, ProductSerializer


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
    )
)
class ProductViewSet(viewsets.ModelViewSet):
    """Products: anyone reads active ones; staff with catalog.view_product read all."""

    permission_classes = (_writes("product"),)
    lookup_field = "slug"
    filter_backends = (DjangoFilterBackend,)
    filterset_class = ProductFilter
    pagination_class = ProductPagination
    parser_classes = (JSONParser, MultiPartParser, FormParser)
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


router = routers.SimpleRouter()
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")

urlpatterns = router.urls

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, routers, viewsets

from . import selectors, services
from .filters import ProductFilter
from .pagination import ProductPagination
from .serializers import CategorySerializer, ProductDetailSerializer, ProductSerializer


class IsStaffOrReadOnly(permissions.BasePermission):
    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


def _is_staff(request) -> bool:
    return bool(request.user and request.user.is_authenticated and request.user.is_staff)


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
    )
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


router = routers.SimpleRouter()
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")

urlpatterns = router.urls

"""Pagination for the product list that stays fast however large the catalog grows.

Counting every match of a broad filter costs time in proportion to the catalog
(PostgreSQL has to visit each matching row and its stock row). Shoppers do not page past a
few hundred results, so the count is exact up to COUNT_LIMIT and reported as capped above it;
pages beyond the cap are not served (refine the search instead). This keeps both the count and
the OFFSET bounded.
"""

from django.conf import settings
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework import pagination
from rest_framework.response import Response


def _count_limit() -> int:
    return getattr(settings, "CATALOG_COUNT_LIMIT", 1000)


class CappedPaginator(Paginator):
    @cached_property
    def count_is_capped(self) -> bool:
        return self._bounded_count > _count_limit()

    @cached_property
    def _bounded_count(self) -> int:
        # Order and columns do not change a count; dropping them lets PostgreSQL stop early.
        return self.object_list.order_by().values("pk")[: _count_limit() + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._bounded_count, _count_limit())


class ProductPagination(pagination.PageNumberPagination):
    django_paginator_class = CappedPaginator
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.page.paginator.count,
                "count_capped": self.page.paginator.count_is_capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_capped"] = {
            "type": "boolean",
            "description": f"True when more than {_count_limit()} products match; "
            "count then stops there.",
        }
        response["required"] = [*response.get("required", []), "count_capped"]
        return response

from django.http import Http404
from django.shortcuts import render

from . import search, selectors
from .filters import ProductFilter
from .pagination import CappedPaginator


def product_list(request):
    """The shop front: search, filter by category and price, sort, paginate."""
    include_inactive = selectors.sees_inactive(request.user)
    filterset = ProductFilter(
        request.GET or None, queryset=selectors.product_list(include_inactive=include_inactive)
    )
    if filterset.is_bound and not filterset.is_valid():
        products = selectors.product_list().none()
    else:
        products = filterset.qs
    page = CappedPaginator(products, 24).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    cleaned = getattr(filterset.form, "cleaned_data", {}) if filterset.is_bound else {}
    search_text = (cleaned.get("search") or "").strip()
    context = {
        "filter": filterset,
        "page": page,
        "categories": selectors.category_list(),
        "current_category": getattr(filterset, "category", None),
        "query": query.urlencode(),
        "search": search_text,
        "filters_active": any(
            cleaned.get(name) not in (None, "", False)
            for name in ("category", "min_price", "max_price", "in_stock", "ordering")
        ),
    }
    if search_text and not page.object_list:
        visible = selectors.product_list(include_inactive=include_inactive)
        context["suggestions"] = search.product_search_suggestions(visible, search_text)
        context["suggested_categories"] = search.category_search_suggestions(search_text)
    return render(request, "catalog/product_list.html", context)


def product_detail(request, slug):
    product = selectors.product_get_visible(
        slug=slug, include_inactive=selectors.sees_inactive(request.user)
    )
    if product is None:
        raise Http404("No such product.")
    return render(request, "catalog/product_detail.html", {"product": product})

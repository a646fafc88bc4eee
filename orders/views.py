from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from inventory.errors import InsufficientStock

from . import selectors, services
from .errors import CartItemGone, InvalidTransition, OrdersError, PaymentInProgress
from .filters import OrderFilter
from .forms import CartAddForm, CartItemQuantityForm, CheckoutForm
from .models import OrderStatus
from .selectors import GUEST_CART_SESSION_KEY

ORDERS_PER_PAGE = 20


def _cart(request, *, create: bool = False):
    """Return the visitor's cart: the user's, or the guest cart kept in the session."""
    if request.user.is_authenticated:
        cart = selectors.cart_get_for_user(user=request.user)
        if cart is None and create:
            cart = services.cart_get_or_create(user=request.user)
        return cart
    cart = selectors.cart_get_for_guest(cart_id=request.session.get(GUEST_CART_SESSION_KEY))
    if cart is None and create:
        cart = services.cart_get_or_create()
        request.session[GUEST_CART_SESSION_KEY] = cart.pk
    return cart


def _first_error(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(message for messages_ in exc.message_dict.values() for message in messages_)
    return " ".join(exc.messages)


def _back(request, fallback: str):
    target = request.POST.get("next") or request.META.get("HTTP_REFERER", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def cart_detail(request):
    cart = _cart(request)
    items = selectors.cart_items(cart=cart)
    return render(
        request,
        "orders/cart.html",
        {"items": items, "subtotal": services.cart_subtotal(items=items)},
    )


@require_POST
def cart_add(request):
    form = CartAddForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label or field}: {' '.join(errors)}")
        return _back(request, reverse("orders:cart"))
    cart = _cart(request, create=True)
    try:
        item = services.cart_item_add(
            cart=cart,
            product_id=form.cleaned_data["product"],
            quantity=form.cleaned_data["quantity"],
        )
    except ValidationError as exc:
        messages.error(request, _first_error(exc))
        return _back(request, reverse("orders:cart"))
    messages.success(
        request, f"Added {form.cleaned_data['quantity']} x {item.product.name} to your cart."
    )
    return redirect("orders:cart")


def _cart_item_or_404(request, item_id):
    item = selectors.cart_item_get(cart=_cart(request), item_id=item_id)
    if item is None:
        raise Http404("No such cart item.")
    return item


@require_POST
def cart_item_update(request, item_id):
    item = _cart_item_or_404(request, item_id)
    form = CartItemQuantityForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Quantity: {' '.join(form.errors.get('quantity', []))}")
        return redirect("orders:cart")
    try:
        services.cart_item_update(item=item, quantity=form.cleaned_data["quantity"])
    except ValidationError as exc:
        messages.error(request, _first_error(exc))
    except CartItemGone as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Updated {item.product.name} to {item.quantity}.")
    return redirect("orders:cart")


@require_POST
def cart_item_remove(request, item_id):
    item = _cart_item_or_404(request, item_id)
    services.cart_item_remove(item=item)
    messages.success(request, f"Removed {item.product.name} from your cart.")
    return redirect("orders:cart")


def _shortage_message(exc: InsufficientStock, items) -> str:
    names = {item.product_id: item.product.name for item in items}
    parts = [
        f"{names.get(s.product_id, f'product {s.product_id}')}: {s.available} available, "
        f"you asked for {s.requested}"
        for s in exc.shortages
    ]
    return "Not enough stock. " + "; ".join(parts) + ". Please change your cart."


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request):
    items = selectors.cart_items(cart=_cart(request))
    form = CheckoutForm(request.POST or None)
    # A repeated submit (same hidden key) finds the cart empty and gets its order back.
    if request.method == "POST" and form.is_valid():
        try:
            order, _ = services.order_checkout(
                user=request.user,
                shipping_address=form.shipping_address(),
                idempotency_key=f"web-{form.cleaned_data['idempotency_key']}",
            )
        except InsufficientStock as exc:
            messages.error(request, _shortage_message(exc, items))
            return redirect("orders:cart")
        except OrdersError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Order {order.number} placed. Your items are reserved; please pay now."
            )
            return redirect(f"/orders/{order.number}/pay/")
    if not items:
        messages.info(request, "Your cart is empty.")
        return redirect("orders:cart")
    subtotal = services.cart_subtotal(items=items)
    shipping = services.shipping_for(subtotal=subtotal)
    return render(
        request,
        "orders/checkout.html",
        {
            "form": form,
            "items": items,
            "subtotal": subtotal,
            "shipping": shipping,
            "total": subtotal + shipping,
        },
    )


@login_required
def order_list(request):
    filterset = OrderFilter(request.GET or None, queryset=selectors.order_list(user=request.user))
    if filterset.is_bound and not filterset.is_valid():
        orders = selectors.order_list(user=request.user).none()
    else:
        orders = filterset.qs
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "orders/order_list.html",
        {"filter": filterset, "page": page, "query": query.urlencode()},
    )


def _order_or_404(request, number):
    order = selectors.order_get_for_user(number=number, user=request.user)
    if order is None:
        raise Http404("No such order.")
    return order


@login_required
def order_detail(request, number):
    order = _order_or_404(request, number)
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "payments": selectors.order_payments(order=order),
            "can_pay": order.status == OrderStatus.PENDING_PAYMENT,
            "can_cancel": order.status == OrderStatus.PENDING_PAYMENT,
        },
    )


@login_required
@require_POST
def order_cancel(request, number):
    order = _order_or_404(request, number)
    if order.user_id != request.user.pk and not request.user.has_perm("orders.transition_order"):
        raise PermissionDenied("Cancelling someone else's order needs orders.transition_order.")
    try:
        services.order_cancel_unpaid(order=order, actor=request.user)
    except (InvalidTransition, PaymentInProgress) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Order {order.number} was cancelled.")
    return redirect("orders:order_detail", number=order.number)

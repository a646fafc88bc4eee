from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as accounts_services
from accounts.client import client_from_request
from inventory.errors import InsufficientStock

from . import address_book, guest, selectors, services, shipping
from .errors import CartEmpty, CartItemGone, InvalidTransition, OrdersError, PaymentInProgress
from .filters import OrderFilter
from .forms import (
    AddressBookForm,
    CartAddForm,
    CartItemQuantityForm,
    CheckoutForm,
    GuestAccountForm,
)
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


def _cart_items(request):
    """Return the visitor's cart items (the cart and its lines in one query)."""
    return selectors.cart_items_for_visitor(
        user=request.user, cart_id=request.session.get(GUEST_CART_SESSION_KEY)
    )


def cart_detail(request):
    items = _cart_items(request)
    subtotal = services.cart_subtotal(items=items)
    return render(
        request,
        "orders/cart.html",
        {
            "items": items,
            "subtotal": subtotal,
            "free_shipping_remaining": shipping.free_shipping_remaining(subtotal=subtotal),
            # The header's count, from the lines just read (not summed again).
            "cart_count": sum(item.quantity for item in items),
        },
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
    # Back to the page the shopper was on (the product), which now shows the message.
    return _back(request, reverse("orders:cart"))


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


def _checkout_context(request, *, form, items, country):
    subtotal = services.cart_subtotal(items=items)
    methods = shipping.shipping_method_list(country=country)
    options = [
        {"method": method, "price": price, "total": subtotal + price}
        for method in methods
        for price in [shipping.shipping_price(method=method, subtotal=subtotal)]
    ]
    chosen = form["shipping_method"].value() if "shipping_method" in form.fields else None
    current = next((o for o in options if str(o["method"].pk) == str(chosen)), None)
    if current is None:
        current = options[0] if options else None
    charge = (
        current["price"] if current else shipping.shipping_price(method=None, subtotal=subtotal)
    )
    return {
        "form": form,
        "items": items,
        "subtotal": subtotal,
        "shipping_options": options,
        "shipping": charge,
        "total": subtotal + charge,
        "guest": not request.user.is_authenticated,
        "unverified": request.user.is_authenticated and not request.user.email_verified,
    }


def _checkout_form(request, *, methods):
    user = request.user
    addresses = selectors.address_list(user=user)
    return CheckoutForm(
        request.POST or None,
        user=user,
        addresses=addresses,
        methods=methods,
        initial={"email": getattr(user, "email", "")} if user.is_authenticated else {},
    )


def _place_order(request, form, items):
    """Place the order for the visitor (user or guest); return it, or None with errors added."""
    address = form.shipping_address()
    method_id = form.cleaned_data.get("shipping_method")
    try:
        if request.user.is_authenticated:
            order, _ = services.order_checkout(
                user=request.user,
                shipping_address=address,
                shipping_method_id=method_id,
                idempotency_key=f"web-{form.cleaned_data['idempotency_key']}",
            )
            if form.uses_new_address() and form.cleaned_data.get("save_address"):
                address_book.address_remember(user=request.user, shipping_address=address)
        else:
            cart = _cart(request)
            if cart is None:
                raise CartEmpty()
            order = services.order_checkout_guest(
                cart_id=cart.pk,
                email=form.cleaned_data["email"],
                shipping_address=address,
                shipping_method_id=method_id,
            )
            guest.guest_orders_remember(session=request.session, order=order)
    except InsufficientStock as exc:
        messages.error(request, _shortage_message(exc, items))
        return None
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None
    except OrdersError as exc:
        form.add_error(None, str(exc))
        return None
    return order


@require_http_methods(["GET", "POST"])
def checkout(request):
    """Checkout for shoppers and guests: address (or a saved one), delivery, then pay."""
    items = _cart_items(request)
    country = (request.POST.get("country") or "").upper() if request.method == "POST" else ""
    methods = shipping.shipping_method_list()
    form = _checkout_form(request, methods=methods)
    if request.method == "POST" and form.is_valid():
        order = _place_order(request, form, items)
        if order is not None:
            messages.success(
                request, f"Order {order.number} placed. Your items are reserved; please pay now."
            )
            return redirect("payments:pay", number=order.number)
        if not form.errors:  # short stock: the cart page explains
            return redirect("orders:cart")
        country = form.cleaned_data.get("country", country)
    if not items:
        messages.info(request, "Your cart is empty.")
        return redirect("orders:cart")
    return render(
        request,
        "orders/checkout.html",
        _checkout_context(request, form=form, items=items, country=country),
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


def _order_or_none(request, number):
    return selectors.order_get_for_user(number=number, user=request.user)


def _order_or_404(request, number):
    order = selectors.order_get_for_user(number=number, user=request.user)
    if order is None:
        raise Http404("No such order.")
    return order


def order_detail(request, number):
    order = _order_or_none(request, number)  # read once, and shown (no second read)
    if order is None and str(number) in guest.guest_order_numbers(session=request.session):
        return redirect("orders:guest_order_detail", number=number)
    return _order_detail(request, number, order=order)


@login_required
def _order_detail(request, number, *, order=None):
    if order is None:
        raise Http404("No such order.")
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "payments": selectors.order_payments(order=order),
            "can_pay": order.status == OrderStatus.PENDING_PAYMENT and order.user_id is not None,
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


@login_required
@require_http_methods(["GET", "POST"])
def order_cancel_confirm(request, number):
    """Ask before cancelling: the page names the order and what happens to it."""
    order = _order_or_404(request, number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        messages.info(request, f"Order {order.number} can no longer be cancelled.")
        return redirect("orders:order_detail", number=order.number)
    return render(request, "orders/cancel_confirm.html", {"order": order, "guest": False})


# ------------------------------------------------------------------------------
# Guest orders: opened from the signed link, or from this browser's session
# ------------------------------------------------------------------------------
def guest_order_link(request, token):
    """The link in a guest's emails: remember the order in this browser and show it."""
    order = guest.guest_order_from_token(token=token)
    if order is None:
        if request.user.is_authenticated:
            messages.info(request, "This order is now in your account.")
            return redirect("orders:order_list")
        raise Http404("This link is not valid.")
    guest.guest_orders_remember(session=request.session, order=order)
    return redirect("orders:guest_order_detail", number=order.number)


def _guest_order_or_404(request, number):
    order = selectors.order_get_for_guest(
        number=number, numbers=guest.guest_order_numbers(session=request.session)
    )
    if order is None:
        raise Http404("No such order.")
    return order


@require_http_methods(["GET", "POST"])
def guest_order_detail(request, number):
    """A guest's order, with a form to make an account that will hold it."""
    order = _guest_order_or_404(request, number)
    form = GuestAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = order.shipping_address.get("full_name", "").split(" ", 1)
        try:
            accounts_services.user_register(
                email=order.email,
                password=form.cleaned_data["password"],
                first_name=name[0][:150],
                last_name=(name[1] if len(name) > 1 else "")[:150],
                client=client_from_request(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                f"Check {order.email} for a link to confirm your address. Once you log in, "
                f"order {order.number} is in your account.",
            )
            return redirect("orders:guest_order_detail", number=order.number)
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "payments": selectors.order_payments(order=order),
            "can_pay": order.status == OrderStatus.PENDING_PAYMENT,
            "can_cancel": order.status == OrderStatus.PENDING_PAYMENT,
            "guest": True,
            "account_form": form,
        },
    )


@require_http_methods(["GET", "POST"])
def guest_order_cancel(request, number):
    order = _guest_order_or_404(request, number)
    if request.method == "GET":
        if order.status != OrderStatus.PENDING_PAYMENT:
            return redirect("orders:guest_order_detail", number=order.number)
        return render(request, "orders/cancel_confirm.html", {"order": order, "guest": True})
    try:
        services.order_cancel_unpaid(order=order, actor=None, by_guest=True)
    except (InvalidTransition, PaymentInProgress) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Order {order.number} was cancelled.")
    return redirect("orders:guest_order_detail", number=order.number)


# ------------------------------------------------------------------------------
# Address book
# ------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def address_list(request):
    form = AddressBookForm(
        request.POST or None,
        initial={
            "full_name": " ".join(p for p in (request.user.first_name, request.user.last_name) if p)
        },
    )
    if request.method == "POST" and form.is_valid():
        address_book.address_create(
            user=request.user,
            data=form.shipping_address(),
            make_default=form.cleaned_data["is_default"],
        )
        messages.success(request, "Address saved.")
        return redirect("orders:address_list")
    return render(
        request,
        "orders/address_list.html",
        {"addresses": selectors.address_list(user=request.user), "form": form},
    )


def _address_or_404(request, address_id):
    address = selectors.address_get(user=request.user, address_id=address_id)
    if address is None:
        raise Http404("No such address.")
    return address


@login_required
@require_http_methods(["GET", "POST"])
def address_edit(request, address_id):
    address = _address_or_404(request, address_id)
    initial = {**address.as_shipping_address(), "is_default": address.is_default}
    form = AddressBookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        address_book.address_update(
            address=address,
            data=form.shipping_address(),
            make_default=form.cleaned_data["is_default"],
        )
        messages.success(request, "Address updated.")
        return redirect("orders:address_list")
    return render(request, "orders/address_edit.html", {"address": address, "form": form})


@login_required
@require_POST
def address_make_default(request, address_id):
    address = _address_or_404(request, address_id)
    address_book.address_set_default(address=address)
    messages.success(request, "Default address changed.")
    return redirect("orders:address_list")


@login_required
@require_POST
def address_delete(request, address_id):
    address = _address_or_404(request, address_id)
    address_book.address_delete(address=address)
    messages.success(request, "Address deleted.")
    return redirect("orders:address_list")

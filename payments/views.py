from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.client import client_ip
from orders import guest as orders_guest
from orders import selectors as orders_selectors
from orders.errors import OrdersError
from orders.models import OrderStatus

from . import dummy_provider, selectors, services
from .errors import PaymentsError
from .forms import DummyCardForm, HostedCheckoutForm, ProviderCardForm
from .gateways import gateway_names
from .models import PaymentStatus

DUMMY = "dummy"


def _own_order_or_404(request, number):
    """Only the shopper who placed the order pays it (a guest from their browser; staff: 404)."""
    guest_numbers = orders_guest.guest_order_numbers(session=request.session)
    order = orders_selectors.order_get_for_payer(
        number=number, user=request.user, guest_numbers=guest_numbers
    )
    if order is None:
        raise Http404("No such order.")
    return order


def login_required(view):
    """Send visitors to log in, unless the order is one this browser placed as a guest."""

    def wrapper(request, number, *args, **kwargs):
        guest_numbers = orders_guest.guest_order_numbers(session=request.session)
        if not request.user.is_authenticated and str(number) not in guest_numbers:
            return redirect_to_login(request.get_full_path())
        return view(request, number, *args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = view.__name__, view.__doc__
    return wrapper


def _after(payment):
    if payment.status == PaymentStatus.PENDING and payment.redirect_url:
        return redirect(payment.redirect_url)  # the provider's hosted checkout
    name = "payments:failure" if payment.status == PaymentStatus.FAILED else "payments:success"
    return redirect(name, number=payment.order.number)


def _hosted_gateways() -> list[str]:
    """Gateways with a hosted checkout on the page: every real one, and the dummy's own."""
    return [name for name in gateway_names() if name != DUMMY] + (
        [DUMMY] if DUMMY in gateway_names() else []
    )


@login_required
def pay(request, number):
    """The payment page: hosted checkout buttons, and the dummy's direct test-card form."""
    order = _own_order_or_404(request, number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        messages.info(request, f"Order {order.number} is {order.get_status_display().lower()}.")
        return redirect("orders:order_detail", number=order.number)
    hosted = request.method == "POST" and "gateway" in request.POST
    form = DummyCardForm(request.POST if request.method == "POST" and not hosted else None)
    hosted_forms = [
        HostedCheckoutForm(request.POST if hosted else None, gateway=name)
        for name in _hosted_gateways()
    ]
    if request.method == "POST":
        chosen = next((f for f in hosted_forms if hosted and f.is_valid()), None)
        valid = chosen is not None or (not hosted and form.is_valid())
        if valid:
            data = chosen.cleaned_data if chosen else form.cleaned_data
            try:
                payment, _ = services.payment_start(
                    order=order,
                    gateway=data["gateway"] if chosen else DUMMY,
                    details={} if chosen else {"card_number": data["card_number"]},
                    idempotency_key=f"web-{data['idempotency_key']}",
                    ip_address=client_ip(request),
                )
            except ValidationError as exc:
                target = chosen or form  # the form that was sent shows why (a bound one)
                for field, errors in exc.message_dict.items():
                    target.add_error(field if field in target.fields else None, errors)
            except (PaymentsError, OrdersError) as exc:
                (chosen or form).add_error(None, str(exc))
            else:
                return _after(payment)
    open_payment = selectors.payment_open_for_order(order=order)
    return render(
        request,
        "payments/pay.html",
        {
            "order": order,
            "form": form,
            "hosted_forms": hosted_forms,
            "open_payment": open_payment,
            "card_form": DUMMY in gateway_names(),
            "expired": bool(services.order_unpayable_reason(order=order)),
        },
    )


@login_required
def success(request, number):
    """After paying (or back from the provider): paid, or waiting for a confirmation."""
    order = _own_order_or_404(request, number)
    payment = selectors.payment_latest_for_order(order=order)
    if payment is None:
        return redirect("payments:pay", number=order.number)
    if payment.status == PaymentStatus.FAILED:
        return redirect("payments:failure", number=order.number)
    if payment.status == PaymentStatus.SUCCEEDED:
        messages.success(request, f"Thank you: order {order.number} is paid.")
    return render(request, "payments/success.html", {"order": order, "payment": payment})


@login_required
def cancelled(request, number):
    """Back from a hosted checkout without paying: close it at the provider, then say so."""
    order = _own_order_or_404(request, number)
    payment = selectors.payment_latest_for_order(order=order)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment = services.payment_abandon(payment=payment)
    if payment is not None and payment.status == PaymentStatus.SUCCEEDED:
        return redirect("payments:success", number=order.number)
    return redirect("payments:failure", number=order.number)


@login_required
def failure(request, number):
    """The payment was declined; the order can be paid again until its reservation runs out."""
    order = _own_order_or_404(request, number)
    payment = selectors.payment_latest_for_order(order=order)
    if payment is not None and payment.status == PaymentStatus.FAILED:
        messages.error(request, "Your payment was declined.")
    return render(
        request,
        "payments/failure.html",
        {
            "order": order,
            "payment": payment,
            "can_retry": not services.order_unpayable_reason(order=order),
        },
    )


@require_http_methods(["GET", "POST"])
def dummy_checkout(request, reference):
    """The dummy provider's hosted checkout page (it plays the provider; no shop login)."""
    if DUMMY not in gateway_names():
        raise Http404("The dummy gateway is off.")
    record = dummy_provider.checkout_get(reference=reference)
    if record is None:
        raise Http404("No such checkout.")
    form = ProviderCardForm(request.POST if "pay" in request.POST else None)
    if request.method == "POST" and "cancel" in request.POST:
        return redirect(dummy_provider.checkout_cancel(reference=reference))
    if request.method == "POST" and form.is_valid():
        try:
            url = dummy_provider.checkout_pay(
                reference=reference, card_number=form.cleaned_data["card_number"]
            )
        except ValidationError as exc:
            for field, errors in getattr(
                exc, "message_dict", {"card_number": exc.messages}
            ).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect(url)
    return render(request, "payments/dummy_checkout.html", {"record": record, "form": form})

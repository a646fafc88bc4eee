from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from accounts.client import client_ip
from orders import guest as orders_guest
from orders import selectors as orders_selectors
from orders.models import OrderStatus

from . import selectors, services
from .errors import PaymentsError
from .forms import DummyCardForm
from .models import PaymentStatus

GATEWAY = "dummy"


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


def _result_url(payment):
    name = "payments:failure" if payment.status == PaymentStatus.FAILED else "payments:success"
    return redirect(name, number=payment.order.number)


@login_required
def pay(request, number):
    """The payment page after checkout: the order's total and the dummy card form."""
    order = _own_order_or_404(request, number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        messages.info(request, f"Order {order.number} is {order.get_status_display().lower()}.")
        return redirect("orders:order_detail", number=order.number)
    form = DummyCardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payment, _ = services.payment_start(
                order=order,
                gateway=GATEWAY,
                details={"card_number": form.cleaned_data["card_number"]},
                idempotency_key=f"web-{form.cleaned_data['idempotency_key']}",
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except PaymentsError as exc:
            form.add_error(None, str(exc))
        else:
            return _result_url(payment)
    return render(
        request,
        "payments/pay.html",
        {
            "order": order,
            "form": form,
            "expired": bool(services.order_unpayable_reason(order=order)),
        },
    )


@login_required
def success(request, number):
    """After paying: paid, or waiting for the bank's confirmation or a review."""
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

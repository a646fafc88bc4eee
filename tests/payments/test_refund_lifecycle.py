"""Refunds that make sense to a shopper: a full refund before shipping ends the order;
emails on payment success, failure and every refund; staff need their permissions."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import TestCase
from rest_framework.test import APIClient

from inventory.models import Reservation
from orders import services as orders_services
from orders.models import Order
from payments.models import Payment
from tests.factories import UserFactory
from tests.helpers import error_code
from tests.payments.factories import CARD_DECLINED, CARD_OK, ledger_clean, stock_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(order, pay):
    response = pay(order, CARD_OK)
    assert response.data["status"] == "succeeded"
    return Payment.objects.get(pk=response.data["id"])


def refund(client, payment, **body):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/api/v1/payments/{payment.pk}/refunds/",
            body,
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )


def transition(client, order, status):
    return client.post(
        f"/api/v1/orders/{order.number}/transition/", {"status": status}, format="json"
    )


def test_a_full_refund_before_shipping_ends_the_order(paid, order, product, staff_client):
    assert stock_of(product) == (7, 0, 7)
    response = refund(staff_client, paid, amount=str(order.total), reason="Changed my mind")
    assert response.status_code == 201
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_total == order.total
    assert stock_of(product) == (10, 0, 10)  # back on the shelf
    assert not Reservation.objects.filter(reference=order.number, state="active").exists()
    paid.refresh_from_db()
    assert paid.status == "refunded"
    for status in ("processing", "shipped"):
        answer = transition(staff_client, order, status)
        assert answer.status_code == 409 and error_code(answer) == "invalid_transition"
    assert ledger_clean()


def test_a_partial_refund_leaves_the_order_shippable(paid, order, product, staff_client):
    refund(staff_client, paid, amount="5.00", reason="Late")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)
    assert transition(staff_client, order, "processing").status_code == 200
    # The rest, refunded in a second go, is a full refund before shipping.
    refund(staff_client, paid, amount=str(paid.amount - 5), reason="Cancelled")
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert stock_of(product) == (10, 0, 10)
    assert transition(staff_client, order, "shipped").status_code == 409


def test_a_fully_refunded_order_never_ships_even_by_the_service(paid, order):
    Order.objects.filter(pk=order.pk).update(refunded_total=order.total)
    with pytest.raises(Exception) as exc:
        orders_services.order_transition(order=order, to_status="processing")
    assert exc.value.code == "invalid_transition"


def test_the_shopper_is_emailed_on_success_failure_and_each_refund(order, pay, staff_client, user):
    declined = pay(order, CARD_DECLINED)
    assert declined.data["status"] == "failed"
    failed_mail = [m for m in mail.outbox if "did not go through" in m.subject]
    assert len(failed_mail) == 1 and failed_mail[0].to == [user.email]
    assert f"/orders/{order.number}/pay/" in failed_mail[0].body  # a link to try again

    payment = Payment.objects.get(pk=pay(order, CARD_OK).data["id"])
    assert [m.to for m in mail.outbox if "payment received" in m.subject] == [[user.email]]

    refund(staff_client, payment, amount="2.00", reason="Scratch")
    refund(staff_client, payment, amount="3.00", reason="Late")
    refunds = [m for m in mail.outbox if "refunded on order" in m.subject]
    assert len(refunds) == 2 and all(m.to == [user.email] for m in refunds)
    assert "2.00" in refunds[0].subject and "Scratch" in refunds[0].body


def test_payment_emails_are_sent_once(order, pay):
    from payments.services import notices

    payment = Payment.objects.get(pk=pay(order, CARD_OK).data["id"])
    assert notices.payment_notify(payment_id=payment.pk, status="succeeded") is False
    assert len([m for m in mail.outbox if "payment received" in m.subject]) == 1


def test_refunds_need_the_refund_permission(paid):
    staff = UserFactory(is_staff=True)
    client = APIClient()
    client.force_authenticate(user=staff)
    response = refund(client, paid, amount="1.00", reason="x")
    assert response.status_code == 403 and error_code(response) == "permission_denied"
    staff.user_permissions.add(Permission.objects.get(codename="refund_payment"))
    staff = type(staff).objects.get(pk=staff.pk)
    client.force_authenticate(user=staff)
    assert refund(client, paid, amount="1.00", reason="x").status_code == 201


def test_admin_actions_need_their_permissions(rf, paid):
    from django.contrib.admin.sites import site

    from payments.models import Payment as P

    model_admin = site._registry[P]
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_payment"))
    request = rf.get("/admin/payments/payment/")
    request.user = type(staff).objects.get(pk=staff.pk)
    assert set(model_admin.get_actions(request)) == set()
    staff.user_permissions.add(Permission.objects.get(codename="review_payment"))
    request.user = type(staff).objects.get(pk=staff.pk)
    assert set(model_admin.get_actions(request)) == {"approve_review", "reject_review"}
    staff.user_permissions.add(Permission.objects.get(codename="refund_payment"))
    request.user = type(staff).objects.get(pk=staff.pk)
    assert "refund_in_full" in model_admin.get_actions(request)

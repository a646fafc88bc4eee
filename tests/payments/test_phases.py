"""Money in phases: a crash between them is finished by a retry or the reconcile job."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders import services as orders_services
from orders.models import Order
from payments import services
from payments.gateways.dummy import DummyGateway
from payments.models import DummyProviderRecord, Payment, Refund
from payments.services import charges
from tests.helpers import error_code
from tests.payments.factories import CARD_DECLINED, CARD_OK, ledger_clean, stock_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def crash_after_charge(monkeypatch):
    """Make phase 3 fail once, as a process dying right after the provider answered."""
    original = charges.payment_apply_result
    state = {"crashes": 1}

    def apply(**kwargs):
        if state["crashes"]:
            state["crashes"] -= 1
            raise ConnectionError("the database went away after the charge")
        return original(**kwargs)

    monkeypatch.setattr(charges, "payment_apply_result", apply)
    return state


def _start(order, key, card=CARD_OK):
    return services.payment_start(
        order=order, gateway="dummy", details={"card_number": card}, idempotency_key=key
    )


def test_provider_key_comes_from_the_order_and_the_clients_key(order, pay):
    key = uuid.uuid4().hex
    payment = Payment.objects.get(pk=pay(order, CARD_DECLINED, key=key).data["id"])
    assert payment.provider_key == charges.provider_key_for(order=order, idempotency_key=key)
    # Nothing a rollback can undo goes into it: the same order and client key give the same
    # provider key before any row exists, another client key another one.
    assert charges.provider_key_for(order=order, idempotency_key=key) == payment.provider_key
    assert charges.provider_key_for(order=order, idempotency_key=key + "x") != payment.provider_key
    assert DummyProviderRecord.objects.get().key == payment.provider_key


def test_a_crash_after_the_charge_is_finished_by_a_retry_with_the_same_key(
    order, product, crash_after_charge
):
    key = uuid.uuid4().hex
    with pytest.raises(ConnectionError):
        _start(order, key)
    payment = Payment.objects.get(order=order)
    assert payment.status == "processing"  # phase 1 kept; the provider has charged
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.payment_started_at is not None  # neither cancelled nor expired meanwhile

    retried, created = _start(order, key)
    assert (retried.pk, created, retried.status) == (payment.pk, False, "succeeded")
    assert DummyProviderRecord.objects.count() == 1  # charged once at the provider
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.payment_started_at is None
    assert stock_of(product) == (7, 0, 7)
    assert not Refund.objects.exists()


def test_a_crash_after_the_charge_is_reconciled_by_asking_the_gateway(
    order, product, crash_after_charge, django_capture_on_commit_callbacks
):
    with pytest.raises(ConnectionError):
        _start(order, uuid.uuid4().hex)
    payment = Payment.objects.get(order=order)
    # Too recent: the reconcile job leaves payments that may still be in phase 2.
    assert services.payments_reconcile()["checked"] == 0
    Payment.objects.filter(pk=payment.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.payments_reconcile() == {"checked": 1, "changed": 1, "failed": 0}
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.gateway_reference == DummyProviderRecord.objects.get().reference
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)
    assert [m.subject for m in mail.outbox if "payment received" in m.subject]
    # Safe to run twice.
    assert services.payments_reconcile()["checked"] == 0
    assert ledger_clean()


def test_a_payment_that_never_reached_the_provider_fails_and_the_order_stays_payable(
    order, monkeypatch
):
    def unreachable(self, **kwargs):
        raise SystemExit("the process died before the call")

    monkeypatch.setattr(DummyGateway, "charge", unreachable)
    with pytest.raises(SystemExit):
        _start(order, uuid.uuid4().hex)
    monkeypatch.undo()
    Payment.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    services.payments_reconcile()
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.failure_code) == ("failed", "not_reached")
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT and order.payment_started_at is None
    assert _start(order, uuid.uuid4().hex)[0].status == "succeeded"


def test_the_order_is_not_cancelled_while_money_moves(order, crash_after_charge, user_client):
    with pytest.raises(ConnectionError):
        _start(order, uuid.uuid4().hex)
    response = user_client.post(f"/api/v1/orders/{order.number}/cancel/")
    assert response.status_code == 409
    assert error_code(response) == "payment_in_progress"
    with pytest.raises(Exception) as exc:
        orders_services.order_transition(order=order, to_status="expired")
    assert getattr(exc.value, "code", "") == "payment_in_progress"


def test_the_gateway_is_never_called_inside_a_transaction(order):
    from django.db import transaction

    with (
        pytest.raises(RuntimeError, match="inside a database transaction"),
        transaction.atomic(),
    ):
        _start(order, uuid.uuid4().hex)
    assert not DummyProviderRecord.objects.exists()


def test_a_failed_refund_at_the_provider_is_taken_back_and_staff_are_alerted(
    order, pay, staff_user, django_capture_on_commit_callbacks, monkeypatch
):
    from payments.gateways.base import FAILED, RefundResult

    payment = Payment.objects.get(pk=pay(order, CARD_OK).data["id"])
    monkeypatch.setattr(
        DummyGateway, "refund", lambda self, **kw: RefundResult(FAILED, "dummy_re_no")
    )
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_create(payment=payment, amount="5.00", reason="Goodwill")
    refund.refresh_from_db()
    assert refund.status == "failed"
    payment.refresh_from_db()
    assert payment.refunded_amount == 0 and payment.status == "succeeded"
    order.refresh_from_db()
    assert order.refunded_total == 0
    assert any("refused" in m.subject and staff_user.email in m.to for m in mail.outbox)


def test_an_unreachable_gateway_answers_502_and_the_same_key_finishes_the_payment(
    order, product, pay, monkeypatch
):
    from payments.gateways.base import GatewayUnavailable

    original = DummyGateway.charge

    def unreachable(self, **kwargs):
        raise GatewayUnavailable("connection timed out")

    monkeypatch.setattr(DummyGateway, "charge", unreachable)
    key = uuid.uuid4().hex
    response = pay(order, CARD_OK, key=key)

    assert response.status_code == 502
    assert error_code(response) == "gateway_error"
    payment = Payment.objects.get(order=order)
    assert payment.status == "processing"  # phase 1 kept, for the retry or the reconcile job
    assert not DummyProviderRecord.objects.exists()  # nothing was charged

    monkeypatch.setattr(DummyGateway, "charge", original)
    retried = pay(order, CARD_OK, key=key)
    assert retried.status_code in (200, 201)
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert DummyProviderRecord.objects.count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)

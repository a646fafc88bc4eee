"""The payment page after checkout, its success and failure pages, and the admin."""

import pytest
from django.test import Client

from orders import services as orders_services
from payments.models import Payment, WebhookEvent
from tests.factories import UserFactory
from tests.payments.factories import (
    CARD_DECLINED,
    CARD_OK,
    CARD_PENDING,
    event_body,
    sign,
    stock_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_browser(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def submit(browser, order, card, key="k1"):
    page = browser.get(f"/orders/{order.number}/pay/")
    key = page.context["form"].initial["idempotency_key"] if key is None else key
    return browser.post(
        f"/orders/{order.number}/pay/", {"card_number": card, "idempotency_key": key}, follow=True
    )


def test_payment_page_shows_the_total_and_a_labelled_card_field(browser, order):
    page = browser.get(f"/orders/{order.number}/pay/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Pay order {order.number}" in html
    assert f"€{order.total}" in html  # the shop locale writes the currency
    assert '<label for="id_card_number">Card number</label>' in html
    assert "csrfmiddlewaretoken" in html


def test_good_card_lands_on_the_success_page_with_the_order_paid(browser, order, product):
    response = submit(browser, order, CARD_OK)
    assert response.redirect_chain[-1][0] == f"/orders/{order.number}/pay/success/"
    html = response.content.decode()
    assert "Thank you!" in html
    assert f"Thank you: order {order.number} is paid." in html
    order.refresh_from_db()
    assert order.status == "paid"
    assert stock_of(product) == (7, 0, 7)


def test_declined_card_lands_on_the_failure_page_with_a_retry_link(browser, order):
    response = submit(browser, order, CARD_DECLINED)
    assert response.redirect_chain[-1][0] == f"/orders/{order.number}/pay/failed/"
    html = response.content.decode()
    assert "Payment not completed" in html
    assert "Your payment was declined." in html
    assert f'href="/orders/{order.number}/pay/">Try again' in html


def test_double_submit_pays_once(browser, order):
    submit(browser, order, CARD_DECLINED, key="same")
    submit(browser, order, CARD_DECLINED, key="same")
    assert Payment.objects.count() == 1


def test_unknown_card_is_shown_next_to_the_field(browser, order):
    response = browser.post(
        f"/orders/{order.number}/pay/", {"card_number": "1111", "idempotency_key": "k"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["card_number"]
    assert 'id="id_card_number_error"' in response.content.decode()
    assert not Payment.objects.exists()


def test_pending_card_shows_payment_in_progress(browser, order, settings):
    settings.PAYMENT_GATEWAYS = {
        "dummy": {**settings.PAYMENT_GATEWAYS["dummy"], "AUTO_SETTLE": False}
    }
    response = submit(browser, order, CARD_PENDING)
    assert "Payment in progress" in response.content.decode()


def test_the_providers_button_while_a_payment_is_in_progress_says_so(browser, order, settings):
    """A tab still showing the buttons after a card payment went pending: told, not a 500."""
    settings.PAYMENT_GATEWAYS = {
        "dummy": {**settings.PAYMENT_GATEWAYS["dummy"], "AUTO_SETTLE": False}
    }
    page = browser.get(f"/orders/{order.number}/pay/")
    key = page.context["hosted_forms"][0].initial["idempotency_key"]
    submit(browser, order, CARD_PENDING)

    response = browser.post(
        f"/orders/{order.number}/pay/", {"gateway": "dummy", "idempotency_key": key}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert '<p class="error">Another payment for this order is in progress.</p>' in html
    assert Payment.objects.filter(order=order).count() == 1


def test_paid_order_page_redirects_to_the_order(browser, order):
    orders_services.order_transition(order=order, to_status="paid")
    response = browser.get(f"/orders/{order.number}/pay/", follow=True)
    assert response.redirect_chain[-1][0] == f"/orders/{order.number}/"
    assert "is paid" in response.content.decode()


def test_someone_elses_order_is_404(order):
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(f"/orders/{order.number}/pay/").status_code == 404
    assert (
        stranger.post(f"/orders/{order.number}/pay/", {"card_number": CARD_OK}).status_code == 404
    )
    assert stranger.get(f"/orders/{order.number}/pay/success/").status_code == 404


def test_anonymous_is_sent_to_log_in(order):
    response = Client().get(f"/orders/{order.number}/pay/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


# ------------------------------------------------------------------------------
# Admin
# ------------------------------------------------------------------------------
def test_admin_lists_payments_with_refunds_and_fraud_checks(staff_browser, order, pay):
    pay(order, CARD_OK)
    payment = Payment.objects.get()
    assert staff_browser.get("/admin/payments/payment/").status_code == 200
    page = staff_browser.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Refunds" in html and "Fraud checks" in html


def test_admin_approves_a_payment_in_review(staff_browser, order, pay, settings):
    settings.FRAUD_AMOUNT_THRESHOLD = "1.00"
    pay(order, CARD_OK)
    payment = Payment.objects.get()
    assert payment.status == "review"
    response = staff_browser.post(  # confirmed (the page asking first: test_admin_confirm)
        "/admin/payments/payment/",
        {"action": "approve_review", "_selected_action": [payment.pk], "apply": "yes"},
        follow=True,
    )
    assert "1 payment(s) approved." in response.content.decode()
    order.refresh_from_db()
    assert order.status == "paid"


def test_admin_rejects_a_payment_in_review(staff_browser, order, pay, settings):
    settings.FRAUD_AMOUNT_THRESHOLD = "1.00"
    pay(order, CARD_OK)
    payment = Payment.objects.get()
    staff_browser.post(
        "/admin/payments/payment/",
        {"action": "reject_review", "_selected_action": [payment.pk], "apply": "yes"},
        follow=True,
    )
    payment.refresh_from_db()
    assert payment.status == "refunded"


def test_webhook_inbox_is_read_only_and_reprocesses_unprocessed_events(
    staff_browser, order, pay, secret
):
    from payments import services

    payment = Payment.objects.get(pk=pay(order, CARD_PENDING, run_on_commit=False).data["id"])
    body = event_body("payment.succeeded", payment, "evt_admin")
    services.webhook_receive(
        gateway="dummy", body=body, headers={"X-Signature": sign(body, secret)}
    )  # stored; its task never ran
    event = WebhookEvent.objects.get()
    assert staff_browser.get("/admin/payments/webhookevent/").status_code == 200
    detail = staff_browser.get(f"/admin/payments/webhookevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert 'name="event_id"' not in detail.content.decode()  # nothing editable
    response = staff_browser.post(
        "/admin/payments/webhookevent/",
        {"action": "reprocess", "_selected_action": [event.pk]},
        follow=True,
    )
    assert "1 processed, 0 already done, 0 failed." in response.content.decode()
    order.refresh_from_db()
    assert order.status == "paid"
    again = staff_browser.post(
        "/admin/payments/webhookevent/",
        {"action": "reprocess", "_selected_action": [event.pk]},
        follow=True,
    )
    assert "0 processed, 1 already done, 0 failed." in again.content.decode()


def test_dummy_webhook_send_command_settles_a_pending_payment(
    order, pay, django_capture_on_commit_callbacks
):
    from io import StringIO

    from django.core.management import call_command

    payment = Payment.objects.get(pk=pay(order, CARD_PENDING, run_on_commit=False).data["id"])
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("dummy_webhook_send", str(payment.pk), stdout=out)
    assert "stored" in out.getvalue()
    order.refresh_from_db()
    assert order.status == "paid"

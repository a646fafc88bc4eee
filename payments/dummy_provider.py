"""The dummy provider's own side: its hosted checkout page and its settlement of charges.

Plays what a real provider does on its servers: the shopper enters a test card on its page
(or a pending card settles a moment later), it records the outcome under its idempotency
key, sends its signed webhook to the shop (through the same receiving path as an HTTP
call) and sends the shopper back to the shop's return or cancel URL.
"""

from django.core.exceptions import ValidationError

from .gateways import gateway_get
from .gateways.base import FAILED, PAYMENT_FAILED, PAYMENT_SUCCEEDED, PENDING, SUCCEEDED
from .gateways.dummy import OPEN, TEST_CARDS, card_clean
from .models import DummyProviderRecord

GATEWAY = "dummy"


def checkout_get(*, reference: str) -> DummyProviderRecord | None:
    return DummyProviderRecord.objects.filter(
        kind=DummyProviderRecord.Kind.PAYMENT, reference=reference
    ).first()


def _send(record: DummyProviderRecord, event_type: str) -> None:
    from .services import webhook_receive

    gw = gateway_get(GATEWAY)
    body, headers = gw.webhook_for_record(event_type=event_type, record=record)
    webhook_receive(gateway=GATEWAY, body=body, headers=headers)


def checkout_pay(*, reference: str, card_number: str) -> str:
    """The shopper paid on the provider's page; return where to send them (the shop's URL).

    Raises ValidationError for a card that is not a test card.
    """
    record = checkout_get(reference=reference)
    if record is None:
        raise ValidationError("This checkout does not exist.")
    card = card_clean(card_number)
    outcome = TEST_CARDS[card]
    changed = DummyProviderRecord.objects.filter(pk=record.pk, status=OPEN).update(
        status=outcome, failure_code="card_declined" if outcome == FAILED else ""
    )
    record.refresh_from_db()
    if changed and outcome == SUCCEEDED:
        _send(record, PAYMENT_SUCCEEDED)
    elif changed and outcome == FAILED:
        _send(record, PAYMENT_FAILED)
    elif changed and outcome == PENDING:
        from outbox.services import task_enqueue_in

        task_enqueue_in(2, "payments.tasks.dummy_provider_settle", record.reference)
    return record.cancel_url if record.status == FAILED else record.success_url


def checkout_cancel(*, reference: str) -> str:
    """The shopper gave up on the provider's page; return the shop's cancel URL."""
    record = checkout_get(reference=reference)
    if record is None:
        raise ValidationError("This checkout does not exist.")
    if DummyProviderRecord.objects.filter(pk=record.pk, status=OPEN).update(
        status=FAILED, failure_code="cancelled"
    ):
        record.refresh_from_db()
        _send(record, PAYMENT_FAILED)
    return record.cancel_url


def settle(*, reference: str, outcome: str = SUCCEEDED) -> bool:
    """Settle a pending charge (the bank confirmed) and send the webhook; safe to run twice."""
    record = checkout_get(reference=reference)
    if record is None:
        return False
    DummyProviderRecord.objects.filter(pk=record.pk, status=PENDING).update(status=outcome)
    record.refresh_from_db()
    if record.status not in (SUCCEEDED, FAILED):
        return False
    # The event id is derived from the charge: sending again is processed once.
    _send(record, PAYMENT_SUCCEEDED if record.status == SUCCEEDED else PAYMENT_FAILED)
    return True

"""Send the dummy provider's signed webhook for a payment, as the provider would."""

import urllib.request

from django.core.management.base import BaseCommand, CommandError

from payments import selectors, services
from payments.errors import PaymentsError
from payments.gateways import gateway_get
from payments.gateways.base import EVENT_TYPES, PAYMENT_SUCCEEDED, REFUND_SUCCEEDED
from payments.models import Payment


class Command(BaseCommand):
    help = (
        "Send a signed dummy-gateway webhook (default payment.succeeded) for a payment, "
        "through the webhook service or, with --url, over HTTP."
    )

    def add_arguments(self, parser):
        parser.add_argument("payment", help="Payment id or gateway reference")
        parser.add_argument("--type", default=PAYMENT_SUCCEEDED, choices=EVENT_TYPES)
        parser.add_argument(
            "--url",
            default="",
            help="POST to this URL (e.g. http://127.0.0.1:8000/api/v1/"
            "payments/webhooks/dummy/) instead of calling the service in this process",
        )

    def handle(self, *args, payment, type, url, **options):
        found = selectors.payment_get(payment_id=payment) if payment.isdigit() else None
        found = found or Payment.objects.filter(gateway_reference=payment).first()
        if found is None:
            raise CommandError(f"No payment {payment!r}.")
        refund = found.refunds.order_by("-id").first() if type == REFUND_SUCCEEDED else None
        if type == REFUND_SUCCEEDED and refund is None:
            raise CommandError("That payment has no refund to confirm.")
        if not url:
            try:
                event, created = services.webhook_simulate(
                    payment=found, event_type=type, refund=refund
                )
            except PaymentsError as exc:
                raise CommandError(f"Refused: {exc.code}: {exc}") from exc
            state = "stored" if created else "already stored"
            self.stdout.write(self.style.SUCCESS(f"{type} {event.event_id} {state}."))
            return
        gateway = gateway_get(found.gateway)
        body, headers = gateway.webhook_build(event_type=type, payment=found, refund=refund)
        if not url.startswith(("http://", "https://")):
            raise CommandError("--url must be an http(s) URL.")
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                self.stdout.write(f"{response.status} {response.read().decode()}")
        except urllib.error.HTTPError as exc:
            raise CommandError(f"{exc.code} {exc.read().decode()}") from exc

"""Verify every stock item against its ledger and its active reservations."""

from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import stock_ledger_discrepancies


class Command(BaseCommand):
    help = (
        "Check that on_hand and reserved equal the sums of the stock ledger and that reserved "
        "equals the active reservations; exit non-zero naming each item that disagrees."
    )

    def handle(self, *args, **options):
        discrepancies = stock_ledger_discrepancies()
        for discrepancy in discrepancies:
            self.stderr.write(discrepancy.describe())
        if discrepancies:
            raise CommandError(
                f"{len(discrepancies)} stock item(s) disagree with the ledger: "
                + ", ".join(str(d.stock_item_id) for d in discrepancies)
            )
        self.stdout.write(self.style.SUCCESS("Stock counters agree with the ledger."))

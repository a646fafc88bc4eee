from django.core.management.base import BaseCommand

from outbox.services import outbox_sweep


class Command(BaseCommand):
    help = "Publish the tasks waiting in the outbox (what the beat sweep does every minute)."

    def handle(self, *args, **options):
        counts = outbox_sweep()
        self.stdout.write(
            f"{counts['sent']} sent, {counts['failed']} failed, {counts['pending']} still waiting"
        )

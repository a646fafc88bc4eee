"""Delete guest carts nobody has touched for a while."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from orders import services


class Command(BaseCommand):
    help = "Delete guest (anonymous) carts untouched for --days days (default 30)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args, days, **options):
        deleted = services.carts_purge_guest(older_than=timezone.now() - timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} guest cart(s) untouched for more than {days} days.")

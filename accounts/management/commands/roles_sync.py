from django.core.management.base import BaseCommand

from accounts.roles import ROLES
from accounts.services.roles import roles_sync


class Command(BaseCommand):
    help = "Create or update the staff groups (Catalog, Warehouse, ...) and their permissions."

    def handle(self, *args, **options):
        result = roles_sync()
        for name in result.created_groups:
            self.stdout.write(f"created group {name}")
        for name in result.created_permissions:
            self.stdout.write(f"created permission {name}")
        for name, why in sorted(result.skipped.items()):
            self.stdout.write(self.style.WARNING(f"skipped {name}: {why}; run again later"))
        self.stdout.write(self.style.SUCCESS(f"{len(ROLES)} staff groups in step."))

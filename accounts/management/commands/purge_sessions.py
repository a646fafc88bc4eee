from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = "Delete expired refresh-token rows and sessions ended before the retention period."

    def handle(self, *args, **options):
        deleted = services.sessions_purge()
        self.stdout.write(
            f"Deleted {deleted['refresh_tokens']} refresh token(s) "
            f"and {deleted['sessions']} session(s)."
        )

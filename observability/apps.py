from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Logs, metrics and liveness: sits above every other app and is imported by none."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "observability"

    def ready(self):
        from . import middleware, receivers  # noqa: F401  (connect their signal receivers)

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Payment providers' deliveries take a lean chain (config.handlers); the rest, Django's.
from config.handlers import WebhookDispatch  # noqa: E402

application = WebhookDispatch(application)

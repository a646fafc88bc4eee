"""Payment gateways behind one interface; `gateway_get(name)` builds the configured one.

settings.PAYMENT_GATEWAYS maps a name (used in URLs and stored on payments) to its CLASS,
WEBHOOK_SECRET (or WEBHOOK_SECRETS while rolling a secret) and provider options.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from ..errors import UnknownGateway
from .base import ChargeResult, Gateway, RefundResult, WebhookMessage

__all__ = [
    "ChargeResult",
    "Gateway",
    "RefundResult",
    "WebhookMessage",
    "gateway_get",
    "gateway_names",
]


def gateway_names() -> list[str]:
    return list(getattr(settings, "PAYMENT_GATEWAYS", {}))


def gateway_get(name: str) -> Gateway:
    """Return the gateway configured under that name; raise UnknownGateway otherwise."""
    config = getattr(settings, "PAYMENT_GATEWAYS", {}).get(name) if isinstance(name, str) else None
    if not config:
        raise UnknownGateway(str(name))
    secrets = config.get("WEBHOOK_SECRETS") or [config.get("WEBHOOK_SECRET", "")]
    options = {
        k.lower(): v
        for k, v in config.items()
        if k not in ("CLASS", "WEBHOOK_SECRET", "WEBHOOK_SECRETS")
    }
    gateway_class = import_string(config["CLASS"])
    return gateway_class(
        name=name,
        webhook_secrets=[s for s in secrets if s],
        webhook_tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        **options,
    )

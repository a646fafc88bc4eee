"""The shop's own Prometheus metrics, next to django-prometheus' request metrics.

Counters are incremented by signal receivers (see receivers.py) after the transaction that
made the change commits, in whichever process made it: a web process or a Celery worker.
With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn with several workers, the workers on the same
machine) every process writes there and `/metrics` adds them up. The queue length is read
from the broker, and the outbox's size from the database, when `/metrics` is scraped.
"""

import logging
import os

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

ORDERS_PLACED = Counter("shop_orders_placed_total", "Orders placed (checkout committed).")
PAYMENTS = Counter(
    "shop_payments_total",
    "Payments that reached a status, by that status (succeeded, failed, review, ...).",
    ["outcome"],
)
WEBHOOKS = Counter(
    "shop_webhooks_total",
    "Webhook deliveries: received (signature valid), refused (stored, not trusted), processed.",
    ["gateway", "result"],
)
STOCK_ALERTS_OPENED = Counter(
    "shop_stock_alerts_opened_total", "Stock alerts opened, by kind.", ["kind"]
)


class QueueCollector:
    """Messages waiting in each Celery queue, read from the broker at scrape time."""

    def __init__(self, app, queues=("celery",)):
        self.app = app
        self.queues = queues

    def collect(self):
        gauge = GaugeMetricFamily(
            "shop_celery_queue_length", "Messages waiting in the Celery queue.", labels=["queue"]
        )
        if self.app.conf.task_always_eager:
            yield gauge
            return
        try:
            with self.app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                channel = conn.default_channel
                for queue in self.queues:
                    declared = channel.queue_declare(queue=queue, passive=True)
                    gauge.add_metric([queue], declared.message_count)
        except Exception as exc:  # a scrape reports what it can; the broker may be down
            logger.warning("metrics: queue length unavailable: %s", exc)
        yield gauge


class OutboxCollector:
    """Tasks kept in the outbox because the broker could not take them at commit."""

    def collect(self):
        from outbox.models import OutboxMessage

        gauge = GaugeMetricFamily(
            "shop_outbox_pending", "Tasks waiting in the outbox for the sweep to send them."
        )
        try:
            gauge.add_metric([], OutboxMessage.objects.count())
        except Exception as exc:  # the database may be down; report what we can
            logger.warning("metrics: outbox size unavailable: %s", exc)
        yield gauge


def render(celery_app) -> tuple[bytes, str]:
    """The exposition text for this process, or for every process in multiprocess mode."""
    from prometheus_client import CONTENT_TYPE_LATEST

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    queue_registry = CollectorRegistry()
    queue_registry.register(QueueCollector(celery_app))
    queue_registry.register(OutboxCollector())
    return generate_latest(registry) + generate_latest(queue_registry), CONTENT_TYPE_LATEST

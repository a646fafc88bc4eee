from celery import shared_task

from . import services


@shared_task(name="catalog.tasks.product_thumbnail_make", acks_late=True)
def product_thumbnail_make(product_id: int) -> bool:
    """Render a product's thumbnail; safe to run twice (it overwrites the same file)."""
    return services.product_thumbnail_make(product_id=product_id)

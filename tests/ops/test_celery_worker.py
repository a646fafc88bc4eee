"""A real Celery worker against Redis runs the catalog's thumbnail task."""

import os
from io import BytesIO

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog.models import Product
from config.celery import app as project_app
from tests.factories import ProductFactory

REDIS_URL = os.environ.get("REDIS_URL", "")


def _png(size=(1200, 900)) -> SimpleUploadedFile:
    out = BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, format="PNG")
    return SimpleUploadedFile("photo.png", out.getvalue(), content_type="image/png")


@pytest.fixture
def redis_app():
    """A Celery app on Redis with a worker thread; the project's eager app is left alone."""
    if not REDIS_URL:
        pytest.skip("Redis is not configured (REDIS_URL); the eager-mode test covers the task")
    broker = f"{REDIS_URL.rsplit('/', 1)[0]}/14"
    app = Celery("worker-test", broker=broker, backend=broker, set_as_current=False)
    app.conf.update(task_always_eager=False, broker_connection_retry_on_startup=True)
    app.autodiscover_tasks(["catalog"], force=True)
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            yield app
    finally:
        app.close()
        project_app.set_current()  # the worker made its app the current one
        project_app.set_default()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_thumbnail_task_runs_on_a_real_worker(redis_app):
    product = ProductFactory(image=_png())
    result = redis_app.send_task("catalog.tasks.product_thumbnail_make", args=[product.pk])
    assert result.get(timeout=20) is True
    product = Product.objects.get(pk=product.pk)
    assert product.thumbnail.name.endswith("-thumb.jpg")
    with Image.open(product.thumbnail.path) as thumb:
        assert max(thumb.size) == 400


@pytest.mark.django_db(transaction=True)
def test_uploading_an_image_through_the_api_queues_the_thumbnail(staff_client):
    created = staff_client.post(
        "/api/v1/products/", {"sku": "IMG-1", "name": "Pictured", "price": "3.00"}, format="json"
    )
    assert created.status_code == 201, created.json()
    # The image has its own multipart operation (bodies are JSON everywhere else).
    response = staff_client.post(
        f"/api/v1/products/{created.json()['slug']}/image/",
        {"image": _png((800, 800))},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["image"].endswith(".png")
    product = Product.objects.get(sku="IMG-1")
    assert product.thumbnail  # eager Celery ran the task after commit
    with Image.open(product.thumbnail.path) as thumb:
        assert thumb.size == (400, 400)

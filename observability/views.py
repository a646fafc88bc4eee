from celery import current_app as celery_app
from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import metrics


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus exposition text (only with METRICS_ENABLED; keep it off the public proxy)."""
    if not settings.METRICS_ENABLED:
        raise Http404
    body, content_type = metrics.render(celery_app)
    return HttpResponse(body, content_type=content_type)

# The shop's image: gunicorn serving config.wsgi, static files collected at build time and
# served by whitenoise, running as an unprivileged user. The same image runs the Celery
# worker and the beat (see compose.yaml). Not built on the development machines (they cannot
# build images); the tested path is `make cluster` (deploy/cluster.py). See deploy/README.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production \
    LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

RUN groupadd --system shop && useradd --system --gid shop --home-dir /app --shell /usr/sbin/nologin shop

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=shop:shop . .
# collectstatic needs settings that import, not real services: a throwaway build-time secret
# and placeholder URLs that nothing connects to.
RUN DJANGO_SECRET_KEY=build-only-not-a-secret \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    CELERY_BROKER_URL=redis://localhost:6379/1 \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/media /tmp/prometheus && chown -R shop:shop /app/media /tmp/prometheus

USER shop
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]

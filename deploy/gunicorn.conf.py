"""gunicorn settings for the shop (the cluster script and the container image use them).

Command-line flags and GUNICORN_CMD_ARGS override these.
"""

import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# One listening socket per worker process (SO_REUSEPORT): the kernel spreads new
# connections over the workers. With one shared socket, a burst of connections (nginx's
# upstream keep-alive pool, a provider's webhook burst) is accepted by whichever worker
# wakes first and stays there: 16 keep-alive connections were seen on one of 4 workers,
# the others idle, the instance held to one core by that process's GIL
# (benchmarks/webhooks.py --http). The cost: connections still waiting in an exiting
# worker's own queue are reset, unless the kernel moves them
# (`sysctl net.ipv4.tcp_migrate_req=1`, Linux 5.14+; deploy/README.md).
# GUNICORN_REUSE_PORT=false goes back to the one shared socket.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "true").lower() not in ("0", "false", "no")
# Every request is logged once, as JSON with its request id, by django-structlog.
accesslog = None
errorlog = "-"
# Behind the proxy: it sets X-Forwarded-For; the app decides what to trust (TRUSTED_PROXY_*).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    """Prometheus multiprocess mode: drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

"""A fresh PostgreSQL database for one benchmark, migrated, with Django set up on it."""

import os
import sys
from urllib.parse import urlsplit, urlunsplit


def bench_database_url(suffix: str) -> str:
    """Drop and create `<DATABASE_URL's name>_bench_<suffix>`; return its URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (see the README).")
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "shop"
    bench = f"{name}_bench_{suffix}"
    import psycopg

    admin = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{bench}"')
    return urlunsplit(parts._replace(path=f"/{bench}"))


def django_on_fresh_database(suffix: str) -> None:
    """Point Django at a fresh benchmark database, set it up and migrate."""
    os.environ["DATABASE_URL"] = bench_database_url(suffix)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DJANGO_DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

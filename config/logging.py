"""Structured logs: structlog processors shared by Django's LOGGING, the web tier and Celery.

Every record (ours, Django's, Celery's, gunicorn's) goes through the same chain: the bound
context (request id, user id, session id, task id) is merged in, secrets are masked, then one
renderer writes it: readable lines for development, one JSON object per line in production
(or with `LOG_FORMAT=json`).
"""

import re

import structlog

# Keys whose values never reach a log line, whatever logged them.
SECRET_KEY_PATTERN = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|signature|card|refresh|access|api_?key|csrf",
    re.IGNORECASE,
)
# `token=...`-style parameters inside logged URLs and messages (verification links and so on).
SECRET_PARAM_PATTERN = re.compile(
    r"(?P<key>[?&;\s](?:[\w-]*(?:token|password|secret|signature|key|code|uid)[\w-]*))=(?P<value>[^&\s\"']+)",
    re.IGNORECASE,
)
BEARER_PATTERN = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
MASK = "[redacted]"
# Context keys that are identifiers, not secrets, even though their name matches.
SAFE_KEYS = frozenset({"request_id", "session_id", "task_id", "child_task_id", "correlation_id"})


def _scrub_text(text: str) -> str:
    text = SECRET_PARAM_PATTERN.sub(lambda m: f"{m.group('key')}={MASK}", text)
    return BEARER_PATTERN.sub(lambda m: f"{m.group(1)}{MASK}", text)


def redact_secrets(logger, method_name, event_dict):
    """Mask values under secret-looking keys and token-like parameters inside strings."""
    for key, value in list(event_dict.items()):
        if key in SAFE_KEYS:
            continue
        if SECRET_KEY_PATTERN.search(key) and key != "event":
            event_dict[key] = MASK
        elif isinstance(value, str):
            event_dict[key] = _scrub_text(value)
    return event_dict


def pre_chain() -> list:
    """Processors run on every record before rendering (structlog and plain logging alike)."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def configure_structlog() -> None:
    """Route structlog through the standard library so LOGGING picks the renderer."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *pre_chain(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(*, log_format: str, level: str) -> dict:
    """Django's LOGGING for one renderer: `json` or `console`."""
    if log_format == "json":
        processors = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ]
    else:
        processors = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(colors=False),
        ]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": processors,
                "foreign_pre_chain": pre_chain(),
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Every request is logged once by django-structlog (`request_finished`).
            "django.server": {"level": "WARNING"},
            "gunicorn.access": {"level": "WARNING"},
        },
    }

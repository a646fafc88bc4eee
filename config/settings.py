"""Settings for the shop, read from the environment.

With nothing set, the shop runs on SQLite, a local-memory cache and eager Celery so that
`make run` works on a fresh machine. `DATABASE_URL`, `REDIS_URL` and `CELERY_BROKER_URL`
switch to PostgreSQL, Redis and a real broker. `DJANGO_ENV=production` turns on the
production checks: no default secret, HTTPS-only cookies, HSTS.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.logging import configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DJANGO_ENV = env("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

# The zero-set-up fallbacks (SQLite, a per-process cache, eager Celery) are wrong with more
# than one process: revocations, lockouts and throttles would live in one worker only.
# Production names what it lacks and stops instead of quietly falling back.
REQUIRED_IN_PRODUCTION = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
if PRODUCTION:
    _missing = [name for name in REQUIRED_IN_PRODUCTION if not env(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs "
            + ", ".join(_missing)
            + " (no SQLite, local-memory cache or eager Celery fallback in production)."
        )

if PRODUCTION:
    SECRET_KEY = env("DJANGO_SECRET_KEY")  # no default: a missing secret fails at start
else:
    SECRET_KEY = env(
        "DJANGO_SECRET_KEY",
        default="dev-only-insecure-key-9f3b2c7e1a5d4f60b8e2c1d7a9f4e3b6c5d8a1f2e7b4c9d0",
    )

DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Proxies in front of the app whose X-Forwarded-For hops are believed (accounts.client):
# a count of proxies, or their networks. Neither: REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
TRUSTED_PROXY_NETWORKS = env.list("TRUSTED_PROXY_NETWORKS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
SHOP_NAME = env("SHOP_NAME", default="Django Shop")

INSTALLED_APPS = [
    "accounts.admin_config.ShopAdminConfig",  # django.contrib.admin with our guarded site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_countries",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "corsheaders",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Ours, lowest first:
    # reports -> payments -> orders -> inventory -> catalog -> accounts -> outbox.
    "outbox",
    "accounts",
    "catalog",
    "inventory",
    "orders",
    "payments",
    "reports",
    # Above everything and imported by nothing: logs, metrics, liveness.
    "observability",
    "django_structlog",
]

MIDDLEWARE = [
    "observability.middleware.RequestIdMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Early, so every answer carries the policy, including those refused below.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CommonMiddleware, so a preflight is answered before any redirect.
    "corsheaders.middleware.CorsMiddleware",
    # After CORS, so an allowed origin can read the 4xx it answers.
    "config.middleware.CraftedInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionCheckMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.shop",
                "orders.context_processors.cart_count",
            ],
            # Money and shop-time filters on every page and in every email.
            "builtins": ["catalog.templatetags.shop_format"],
        },
    },
]

# ------------------------------------------------------------------------------
# Database
# ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Fail fast while PostgreSQL is unreachable (the request answers 503) instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DATABASE_CONNECT_TIMEOUT", default=5
    )
else:
    # SQLite: wait for a writer instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
# Parallel test runs on one server each name their own test database.
if env("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Covering indexes (INCLUDE) speed up PostgreSQL's reports; SQLite simply builds them
    # without the extra columns, which is all `make run` needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

# ------------------------------------------------------------------------------
# Cache
# ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", default="shop")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "shop",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

# ------------------------------------------------------------------------------
# Authentication
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/account/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# Tokens and sessions (accounts).
JWT_SIGNING_KEY = env("JWT_SIGNING_KEY", default=SECRET_KEY)
JWT_ISSUER = env("JWT_ISSUER", default="django-shop")
JWT_AUDIENCE = env("JWT_AUDIENCE", default="django-shop-api")
ACCESS_TOKEN_LIFETIME = timedelta(minutes=env.int("ACCESS_TOKEN_MINUTES", default=15))
REFRESH_TOKEN_LIFETIME = timedelta(days=env.int("REFRESH_TOKEN_DAYS", default=7))
SESSION_ABSOLUTE_LIFETIME = timedelta(days=env.int("SESSION_ABSOLUTE_DAYS", default=30))
REFRESH_REUSE_GRACE_SECONDS = env.int("REFRESH_REUSE_GRACE_SECONDS", default=10)
SESSION_RETENTION_DAYS = env.int("SESSION_RETENTION_DAYS", default=30)
EMAIL_VERIFICATION_TIMEOUT = env.int("EMAIL_VERIFICATION_TIMEOUT", default=60 * 60 * 24 * 3)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 3)
# Two-factor authentication for staff (accounts.services.mfa): required in production.
STAFF_2FA_REQUIRED = env.bool("STAFF_2FA_REQUIRED", default=PRODUCTION)
MFA_CHALLENGE_TTL = env.int("MFA_CHALLENGE_TTL", default=300)  # seconds between the steps
MFA_CHALLENGE_ATTEMPTS = 5  # wrong codes before a challenge dies
OTP_TOTP_ISSUER = SHOP_NAME

# Mails per address and kind (verification, reset, "account exists") in an hour.
MAIL_CAP_PER_HOUR = env.int("MAIL_CAP_PER_HOUR", default=3)

LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_WINDOW = timedelta(minutes=env.int("LOGIN_LOCKOUT_WINDOW_MINUTES", default=15))

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": REFRESH_TOKEN_LIFETIME,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ISSUER": JWT_ISSUER,
    "AUDIENCE": JWT_AUDIENCE,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "type",
    "JTI_CLAIM": "jti",
    "UPDATE_LAST_LOGIN": False,
    "LEEWAY": 0,
}

# ------------------------------------------------------------------------------
# REST API
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer access tokens checked against their session on every request (accounts);
        # simplejwt's stock JWTAuthentication stays importable for the benchmark.
        "accounts.authentication.SessionTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON only, through our parser that limits nesting (API_JSON_MAX_DEPTH); the product
    # image upload adds multipart on that viewset alone.
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    # JSON out, and never a 406: an Accept naming nothing we render gets JSON (config.negotiation).
    # No browsable API: every answer under /api/ is the documented JSON (docs: /api/docs/).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.LenientContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "config.schema.ShopAutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Keyed on the client address (accounts.throttling), letting requests through while Redis
    # is unreachable (config/throttling).
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserRateThrottle",
        "config.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="600/min"),
        "user": env("THROTTLE_USER", default="1200/min"),
        "login": env("THROTTLE_LOGIN", default="30/min"),
        "refresh": env("THROTTLE_REFRESH", default="60/min"),
        "register": env("THROTTLE_REGISTER", default="20/min"),
        "password_reset": env("THROTTLE_PASSWORD_RESET", default="10/min"),
        "checkout": env("THROTTLE_CHECKOUT", default="60/min"),
        "webhook": env("THROTTLE_WEBHOOK", default="6000/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
}

# JSON request bodies nested deeper than this are refused with 400 `parse_error`.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)

SPECTACULAR_SETTINGS = {
    "TITLE": "Django Shop API",
    "DESCRIPTION": (BASE_DIR / "config" / "api_description.md").read_text(),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.add_error_components",
    ],
    "TAGS": [
        {"name": "auth", "description": "Log in, refresh, sessions, account and passwords."},
        {"name": "categories", "description": "The category tree (anyone reads)."},
        {"name": "products", "description": "The catalog (anyone reads; staff write)."},
        {"name": "cart", "description": "The signed-in shopper's cart."},
        {"name": "orders", "description": "Checkout, order history, cancel, staff moves."},
        {"name": "payments", "description": "Paying orders, refunds, provider webhooks."},
        {"name": "inventory", "description": "Stock, the ledger and alerts (staff)."},
    ],
}

# ------------------------------------------------------------------------------
# Clients on other origins (SPA, mobile web views)
# ------------------------------------------------------------------------------
# Only these origins get CORS headers, and only under /api/. Bearer tokens, not cookies.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ("authorization", "content-type", "idempotency-key")
CORS_EXPOSE_HEADERS = ("retry-after", "www-authenticate")
CORS_ALLOW_CREDENTIALS = False
CORS_PREFLIGHT_MAX_AGE = 86400

# Links in emails, per purpose: `{token}`, `{uid}`, `{number}` are filled in. Empty: the
# shop's own pages under SITE_URL (or FRONTEND_URL's routes when that is set).
FRONTEND_URL = env("FRONTEND_URL", default="").rstrip("/")
EMAIL_LINK_VERIFY = env("EMAIL_LINK_VERIFY", default="")
EMAIL_LINK_RESET = env("EMAIL_LINK_RESET", default="")
EMAIL_LINK_ORDER = env("EMAIL_LINK_ORDER", default="")
# 6-digit codes for apps that cannot open links: lifetime and wrong tries allowed per code.
EMAIL_CODE_MINUTES = env.int("EMAIL_CODE_MINUTES", default=15)
EMAIL_CODE_MAX_ATTEMPTS = env.int("EMAIL_CODE_MAX_ATTEMPTS", default=5)

# ------------------------------------------------------------------------------
# Celery
# ------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Nothing reads task results: without this every queued task subscribes the web process to
# its result in Redis, and a Redis restart leaves that subscriber broken until a restart.
CELERY_TASK_IGNORE_RESULT = env.bool("CELERY_TASK_IGNORE_RESULT", default=True)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker killed mid-task gives the task back to the broker (tasks are safe to run twice).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Publishing after commit happens inside the request: a slow or absent broker must cost at
# most these seconds, after which the task waits in the outbox for the sweep.
OUTBOX_PUBLISH_TIMEOUT = env.float("OUTBOX_PUBLISH_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_TIMEOUT = OUTBOX_PUBLISH_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": OUTBOX_PUBLISH_TIMEOUT,
    "socket_timeout": OUTBOX_PUBLISH_TIMEOUT,
    "max_retries": 0,
    # A message taken by a worker that died with it (the whole machine gone) is handed out
    # again after this many seconds (Redis broker). Keep it above the longest task's run
    # time and the longest countdown.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # How often each worker looks for such messages (one small Redis query per look).
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_SECONDS", default=10),
    "unacked_restore_throttle": 1,
}
# The sweep leaves messages younger than the grace period to their own after-commit publish,
# and leases what it takes for LEASE seconds so two sweeps never send one message at once.
OUTBOX_SWEEP_GRACE_SECONDS = env.int("OUTBOX_SWEEP_GRACE_SECONDS", default=30)
OUTBOX_SWEEP_LEASE_SECONDS = env.int("OUTBOX_SWEEP_LEASE_SECONDS", default=120)
# Emails that go out once (outbox/mail.py): a run claims one for LEASE seconds before the send
# (a run killed in between is taken over after it); a database failing right after the send is
# retried for MARK_RETRY seconds so the email is recorded, not sent again; records of sent
# emails are kept for RETENTION days.
MAIL_SEND_LEASE_SECONDS = env.int("MAIL_SEND_LEASE_SECONDS", default=120)
MAIL_MARK_RETRY_SECONDS = env.int("MAIL_MARK_RETRY_SECONDS", default=60)
MAIL_DELIVERY_RETENTION_DAYS = env.int("MAIL_DELIVERY_RETENTION_DAYS", default=30)
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "outbox.tasks.outbox_sweep",
        "schedule": timedelta(seconds=env.int("OUTBOX_SWEEP_SECONDS", default=60)),
    },
    "outbox-purge-mail-deliveries": {
        "task": "outbox.tasks.mail_deliveries_purge",
        "schedule": crontab(hour=3, minute=41),
    },
    "inventory-release-expired-reservations": {
        "task": "inventory.tasks.reservations_release_expired",
        "schedule": timedelta(seconds=env.int("RESERVATION_RELEASE_SECONDS", default=60)),
    },
    "inventory-evaluate-stock-alerts": {
        "task": "inventory.tasks.stock_alerts_evaluate",
        "schedule": timedelta(minutes=15),
    },
    "accounts-purge-sessions-and-tokens": {
        "task": "accounts.tasks.sessions_purge",
        "schedule": crontab(minute=7),
    },
    "orders-purge-guest-carts": {
        "task": "orders.tasks.guest_carts_purge",
        "schedule": crontab(hour=3, minute=17),
    },
}

# ------------------------------------------------------------------------------
# Shop rules (inventory, orders, payments)
# ------------------------------------------------------------------------------
SHOP_CURRENCY = env("SHOP_CURRENCY", default="EUR")
# CSV import/export in the admin: exporting needs the model's view permission, importing its
# add permission (admins that import more ask for more); an import is one transaction.
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_USE_TRANSACTIONS = True
# Product lists count matches exactly up to this many, then report the count as capped.
CATALOG_COUNT_LIMIT = env.int("CATALOG_COUNT_LIMIT", default=1000)
RESERVATION_MINUTES = env.int("RESERVATION_MINUTES", default=15)
BATCH_EXPIRY_WARNING_DAYS = env.int("BATCH_EXPIRY_WARNING_DAYS", default=30)
STOCK_ALERT_EMAILS = env.list("STOCK_ALERT_EMAILS", default=[])
SHIPPING_FLAT_RATE = env("SHIPPING_FLAT_RATE", default="4.90")
SHIPPING_FREE_OVER = env("SHIPPING_FREE_OVER", default="50.00")
# The dummy gateway takes test cards: on in development, off in production unless asked for
# (then its webhook secret has no default).
PAYMENT_GATEWAYS = {}
if env.bool("DUMMY_GATEWAY_ENABLED", default=not PRODUCTION):
    PAYMENT_GATEWAYS["dummy"] = {
        "CLASS": "payments.gateways.dummy.DummyGateway",
        "WEBHOOK_SECRET": (
            env("DUMMY_GATEWAY_WEBHOOK_SECRET")
            if PRODUCTION
            else env("DUMMY_GATEWAY_WEBHOOK_SECRET", default="whsec_dev_dummy_gateway")
        ),
        # Seconds before a pending test card's settlement webhook is sent (by a worker).
        "SETTLE_DELAY_SECONDS": env.int("DUMMY_GATEWAY_SETTLE_DELAY_SECONDS", default=2),
    }
# Stripe (hosted Checkout Sessions through the official SDK): on when both keys are set.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
if STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET:
    PAYMENT_GATEWAYS["stripe"] = {
        "CLASS": "payments.gateways.stripe.StripeGateway",
        "WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "SECRET_KEY": STRIPE_SECRET_KEY,
        # Only for tests and local fakes; empty means Stripe's own API.
        "API_BASE": env("STRIPE_API_BASE", default=""),
    }
# Where a hosted checkout sends the shopper back; `{order}` is the order number. Empty: the
# shop's own pages. SPA clients may pass their own URLs from PAYMENT_RETURN_ORIGINS.
PAYMENT_RETURN_URL = env("PAYMENT_RETURN_URL", default="")
PAYMENT_CANCEL_URL = env("PAYMENT_CANCEL_URL", default="")
PAYMENT_RETURN_ORIGINS = env.list("PAYMENT_RETURN_ORIGINS", default=[])
# Payments left `processing` this long are asked about at the gateway (a crash between
# phases); `pending` ones (hosted checkout open, bank confirmation due) after the second.
PAYMENT_RECONCILE_AFTER_SECONDS = env.int("PAYMENT_RECONCILE_AFTER_SECONDS", default=120)
PAYMENT_PENDING_CHECK_AFTER_SECONDS = env.int("PAYMENT_PENDING_CHECK_AFTER_SECONDS", default=3600)
# Recipients of payment alerts (reviews, refused refunds); empty: staff who may review.
PAYMENT_ALERT_EMAILS = env.list("PAYMENT_ALERT_EMAILS", default=[])
# Processed and refused webhook deliveries are kept this long.
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)
FRAUD_AMOUNT_THRESHOLD = env("FRAUD_AMOUNT_THRESHOLD", default="1000.00")
FRAUD_MAX_ORDERS_PER_HOUR = env.int("FRAUD_MAX_ORDERS_PER_HOUR", default=10)
FRAUD_MAX_DECLINES_PER_HOUR = env.int("FRAUD_MAX_DECLINES_PER_HOUR", default=3)
FRAUD_NEW_ACCOUNT_HOURS = env.int("FRAUD_NEW_ACCOUNT_HOURS", default=24)
FRAUD_NEW_ACCOUNT_AMOUNT = env("FRAUD_NEW_ACCOUNT_AMOUNT", default="300.00")
FRAUD_REVIEW_SCORE = env.int("FRAUD_REVIEW_SCORE", default=50)
# Webhook events stored but not processed (a lost task, a failed attempt) are retried.
CELERY_BEAT_SCHEDULE["payments-process-pending-webhooks"] = {
    "task": "payments.tasks.webhooks_process_pending",
    "schedule": timedelta(minutes=1),
}
CELERY_BEAT_SCHEDULE["payments-reconcile"] = {
    "task": "payments.tasks.payments_reconcile",
    "schedule": timedelta(minutes=5),
}
# Orders past their reservation time whose hosted checkout is still open at the provider: the
# checkout is closed there, then the order expires (the minutely reservation release leaves
# them alone: money could still arrive).
CELERY_BEAT_SCHEDULE["payments-expire-orders-with-open-checkouts"] = {
    "task": "payments.tasks.orders_expire_with_open_checkouts",
    "schedule": timedelta(seconds=env.int("RESERVATION_RELEASE_SECONDS", default=60)),
}
CELERY_BEAT_SCHEDULE["payments-purge-webhook-inbox"] = {
    "task": "payments.tasks.webhook_events_purge",
    "schedule": crontab(hour=4, minute=27),
}

# ------------------------------------------------------------------------------
# Email
# ------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="shop@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ------------------------------------------------------------------------------
# Static and media files
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# ------------------------------------------------------------------------------
# Internationalisation
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# Times on pages and in emails are shown in the shop's zone, with the zone's name.
TIME_ZONE = env("SHOP_TIME_ZONE", default="Europe/Berlin")
# How money is written on pages and in emails (a Babel/CLDR locale: en_IE gives "€9.50").
SHOP_LOCALE = env("SHOP_LOCALE", default="en_IE")
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------
# Security (production)
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): everything from our own origin, nothing inline.
# The pages, the admin and the API docs (Swagger UI from drf-spectacular-sidecar, its
# start script served as a file) need no inline script or style; the browser suite fails
# on any violation. `data:` images are Swagger UI's and the admin's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# ------------------------------------------------------------------------------
# Logging, metrics, health, error tracking (observability)
# ------------------------------------------------------------------------------
# `console`: readable lines (development); `json`: one object per line (production default).
LOG_FORMAT = env("LOG_FORMAT", default="json" if PRODUCTION else "console")
configure_structlog()
LOGGING = logging_config(log_format=LOG_FORMAT, level=env("LOG_LEVEL", default="INFO"))
if CELERY_TASK_ALWAYS_EAGER:
    # Zero-set-up mode runs tasks inside the web process: a trace line per task and kombu's
    # note about the in-memory broker URL are noise there (a real worker logs them).
    LOGGING["loggers"].update(
        {"celery.app.trace": {"level": "WARNING"}, "kombu.connection": {"level": "ERROR"}}
    )
# Our RequestIdMiddleware keeps X-Request-ID only from a trusted proxy; django-structlog then
# binds it (request id, user id) to every log line and carries it into queued Celery tasks.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False  # bound by observability with the trusted-proxy rule
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_STATUS_4XX_LOG_LEVEL = 20  # INFO: a refused login is not a warning

# Prometheus metrics at /metrics (django-prometheus plus the shop's counters).
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
if METRICS_ENABLED:
    INSTALLED_APPS.append("django_prometheus")
    MIDDLEWARE.insert(0, "django_prometheus.middleware.PrometheusBeforeMiddleware")
    MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")

# Payment providers' deliveries (POST /api/v1/payments/webhooks/<gateway>/) are served by
# config.handlers with this chain: no cookie, CSRF token, user, browser or static file is
# involved there (a delivery is authenticated by its signature), so sessions, CSRF,
# authentication, messages, CSP, CORS and WhiteNoise are left out (CommonMiddleware stays:
# it sets Content-Length).
WEBHOOK_MIDDLEWARE_SKIPPED = {
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionCheckMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}
WEBHOOK_MIDDLEWARE = [path for path in MIDDLEWARE if path not in WEBHOOK_MIDDLEWARE_SKIPPED]

# /healthz: how long to wait for a worker's pong; how old the beat's heartbeat may be.
HEALTHZ_WORKER_TIMEOUT_SECONDS = env.float("HEALTHZ_WORKER_TIMEOUT_SECONDS", default=1.0)
BEAT_HEARTBEAT_SECONDS = env.int("BEAT_HEARTBEAT_SECONDS", default=30)
HEALTHZ_BEAT_MAX_AGE_SECONDS = env.int(
    "HEALTHZ_BEAT_MAX_AGE_SECONDS", default=3 * BEAT_HEARTBEAT_SECONDS + 10
)
CELERY_BEAT_SCHEDULE["observability-beat-heartbeat"] = {
    "task": "observability.tasks.beat_heartbeat",
    "schedule": timedelta(seconds=BEAT_HEARTBEAT_SECONDS),
    "options": {"expires": BEAT_HEARTBEAT_SECONDS},
}

# Error tracking (optional): sentry-sdk with its Django and Celery integrations.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=DJANGO_ENV,
        send_default_pii=False,  # no cookies, headers or user emails leave the shop
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

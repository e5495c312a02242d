"""Settings for every environment, read from the environment (django-environ).

Every variable is listed with a comment in `.env.example`. Local values written by
`scripts/services.sh` (database and Redis addresses, generated secrets) live in
`var/local.env`; a `.env` file, then the real environment, override them.
`config.settings.production` never reads `var/local.env` (development values: DEBUG on).
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
PRODUCTION = os.environ.get("DJANGO_SETTINGS_MODULE", "") == "config.settings.production"
# The first file to set a variable wins (the real environment beats both): .env, then var/local.env.
ENV_FILES = [BASE_DIR / ".env"] + ([] if PRODUCTION else [BASE_DIR / "var" / "local.env"])
for env_file in ENV_FILES:
    if env_file.exists():
        env.read_env(str(env_file), overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto / X-Forwarded-Host.
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The client address for login lockouts is the one the proxy saw (REMOTE_ADDR otherwise).
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    AXES_IPWARE_PROXY_COUNT = 1

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_admin_lightweight_date_hierarchy",
    "axes",
    "csp",
]
LOCAL_APPS = [
    "accounts",
    "providers",
    "numbers",
    "messaging",
    "calls",
    "billing",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "config.middleware.RejectNulQueryMiddleware",
    "config.middleware.CachedCSPMiddleware",
    "providers.middleware.WebhookBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.rls.RlsMiddleware",  # row-level security settings; before TenantMiddleware
    "accounts.tenancy.TenantMiddleware",
    # Last, as django-axes asks: refuses a locked-out login before the view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "accounts.context_processors.tenancy",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL")}
# Django's backend with a health check that needs no round trip (core/postgres/base.py).
DATABASES["default"]["ENGINE"] = "core.postgres"
# Server-side prepared statements for the statements that ask for them (core.db.prepared_cursor,
# the hot paths of sends and delivery reports) and never automatically: Django's default
# (None) would disable them altogether. They live with the session, like the row-level
# security settings (hence no transaction-pooling proxy: docs/security.md).
PREPARE_AFTER = env.int("DB_PREPARE_THRESHOLD", default=2**31 - 1) or None  # 0: none at all
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = PREPARE_AFTER
# DATABASE_URL is the application role (no superuser, no BYPASSRLS; created by the migrations
# with this password); migrations run as the schema owner, on the same host and database.
# See docs/security.md, "Row-level security".
DATABASE_APP_USER = DATABASES["default"]["USER"]
DATABASE_APP_PASSWORD = DATABASES["default"]["PASSWORD"]
DATABASE_OWNER_USER = env("DATABASE_OWNER_USER", default="")
DATABASE_OWNER_PASSWORD = env("DATABASE_OWNER_PASSWORD", default="")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "core.cache.SharedClientRedisCache",
        "LOCATION": env("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="sb"),
    }
}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it counts failed logins (dashboard and /admin/) and refuses a locked one.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout after LOGIN_FAILURE_LIMIT wrong passwords for one email, or from one address,
# for LOGIN_LOCKOUT_MINUTES; a successful login resets the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "accounts.login_throttle.login_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles")))
MEDIA_URL = "/media/"
# Recordings and MMS media copied from providers; never served directly (views check tenancy).
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="filemail://")
vars().update(EMAIL_CONFIG)
if not EMAIL_CONFIG.get("EMAIL_FILE_PATH"):
    # Unset: each mail is a file under var/mail/ (reset links never reach the shared log).
    EMAIL_FILE_PATH = str(BASE_DIR / "var" / "mail")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Switchboard <switchboard@localhost>")

# --- Celery -------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# A killed worker's unacknowledged task comes back after this many seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues split by kind so each can get its own workers (see README, "Deploying").
CELERY_TASK_ROUTES = {
    "providers.tasks.sync_*": {"queue": "sync"},
    "messaging.tasks.send_*": {"queue": "send"},
    "calls.tasks.place_*": {"queue": "send"},
    "providers.tasks.apply_webhook_event": {"queue": "hooks"},
    "providers.tasks.apply_pending_webhooks": {"queue": "hooks"},
}
CELERY_BEAT_SCHEDULE: dict = {
    "sync-due-accounts": {"task": "providers.tasks.sync_due_accounts", "schedule": 60.0},
    "prune-synced-pages": {
        "task": "providers.tasks.prune_synced_pages",
        "schedule": crontab(hour=3, minute=47),
    },
    "retry-pending-webhook-events": {
        "task": "providers.tasks.retry_pending_webhook_events",
        "schedule": 30.0,
    },
    "prune-provider-logs": {
        "task": "providers.tasks.prune_provider_logs",
        "schedule": crontab(hour=3, minute=17),
    },
    "prune-webhook-events": {
        "task": "providers.tasks.prune_webhook_events",
        "schedule": crontab(hour=3, minute=37),
    },
    "fold-usage": {"task": "billing.tasks.fold_usage", "schedule": 5.0},
    "sweep-queued-messages": {
        "task": "messaging.tasks.sweep_queued",
        "schedule": env.float("SEND_SWEEP_SECONDS", default=15.0),
    },
    "sweep-queued-calls": {
        "task": "calls.tasks.sweep_calls",
        "schedule": env.float("SEND_SWEEP_SECONDS", default=15.0),
    },
    "sweep-recording-fetches": {
        "task": "calls.tasks.sweep_recording_fetches",
        "schedule": crontab(minute=41),
    },
    "sweep-media-fetches": {"task": "messaging.tasks.sweep_media_fetches", "schedule": crontab(minute=43)},
    "snapshot-balances": {"task": "billing.tasks.snapshot_balances", "schedule": crontab(minute=7)},
    "charge-number-rentals": {
        "task": "billing.tasks.charge_number_rentals_all",
        "schedule": crontab(hour=0, minute=23),
    },
}

# --- REST API -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON bodies (depth-bounded); only the bulk CSV upload also takes multipart.
    "DEFAULT_PARSER_CLASSES": ["core.api_parsers.BoundedJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api_auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_THROTTLE_RATE", default="600/min")},
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    # The schema and the docs are for our users: a session or an API key (any scope).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Numbers, subaccounts, SMS/MMS, calls, recordings and spend across every "
    "connected provider account. Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api_errors.decimal_inputs_accept_numbers",
        "core.api_errors.empty_filters_mean_any",
    ],
    # Several models have a `status`; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {"ProviderAccountStatusEnum": "providers.models.ProviderAccount.Status"},
}

# --- Switchboard ----------------------------------------------------------------------
# Fernet keys (comma-separated, newest first) encrypting provider credentials at rest.
FERNET_KEYS = env.list("FERNET_KEYS")
# Address providers (and the sandbox) use to reach our webhooks.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
PROVIDER_HTTP_TIMEOUT = env.float("PROVIDER_HTTP_TIMEOUT", default=20.0)
PROVIDER_LOG_RETENTION_DAYS = env.int("PROVIDER_LOG_RETENTION_DAYS", default=14)
# A history page a sync wrote is not written again while remembered (providers.page_memory).
SYNC_PAGE_MEMORY_DAYS = env.int("SYNC_PAGE_MEMORY_DAYS", default=30)
# After a webhook secret is rotated, signatures with the old one are accepted this long.
WEBHOOK_SECRET_GRACE_HOURS = env.int("WEBHOOK_SECRET_GRACE_HOURS", default=24)
# Applied and ignored webhook events are deleted after this many days (pending/failed stay).
WEBHOOK_EVENT_RETENTION_DAYS = env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=30)
# Record every provider HTTP exchange as a ProviderLog row (the debugger view).
# Syncs running at once against one provider, across every tenant and worker (0: no cap).
SYNC_PROVIDER_CONCURRENCY = env.int("SYNC_PROVIDER_CONCURRENCY", default=4)
# A queued send whose task was lost (a Redis crash) is enqueued again after this long.
SEND_QUEUED_STALE_SECONDS = env.int("SEND_QUEUED_STALE_SECONDS", default=60)
# A send claimed this long ago with no outcome lost its worker: it becomes `unknown` (0: derived
# from PROVIDER_HTTP_TIMEOUT, about two minutes by default).
SEND_SENDING_STALE_SECONDS = env.int("SEND_SENDING_STALE_SECONDS", default=0)
# New sends go out in batches of up to SEND_BATCH_SIZE per account (fewer when the account's
# send rate is lower); at most one batch sender is enqueued per account per SEND_KICK_MS
# (0: one per message).
SEND_BATCH_SIZE = env.int("SEND_BATCH_SIZE", default=50)
# Requests of one batch waiting on the provider at once (hides the provider's latency).
SEND_BATCH_IN_FLIGHT = env.int("SEND_BATCH_IN_FLIGHT", default=4)
SEND_KICK_MS = env.int("SEND_KICK_MS", default=1000)
# After a batch under half its size, the batch sender waits this long before claiming the
# next, so sends that trickle in go out in batches (adds at most this to a send's latency).
SEND_BATCH_PAUSE_MS = env.int("SEND_BATCH_PAUSE_MS", default=50)
# A bulk send starts this many batch senders for its account (they share the send workers).
SEND_BULK_SENDERS = env.int("SEND_BULK_SENDERS", default=4)
# At most one webhook applier task is enqueued per this many milliseconds (0: one per event).
WEBHOOK_KICK_MS = env.int("WEBHOOK_KICK_MS", default=2000)
# After a batch smaller than a tenth of its size, the applier waits this long before the next
# one: reports that trickle in are applied in batches (each costs a query and an adapter),
# not one by one.
WEBHOOK_APPLY_PAUSE_MS = env.int("WEBHOOK_APPLY_PAUSE_MS", default=50)
# The webhook view keeps an account (and its adapter) this long after reading it by token.
WEBHOOK_ACCOUNT_CACHE_SECONDS = env.float("WEBHOOK_ACCOUNT_CACHE_SECONDS", default=10.0)
PROVIDER_LOG_ENABLED = env.bool("PROVIDER_LOG_ENABLED", default=True)
# Base URL of the local provider sandbox; the demo's accounts point at it.
SANDBOX_URL = env("SANDBOX_URL", default="http://127.0.0.1:8025").rstrip("/")
# Longest SMS we send, in parts (160/153 GSM-7 characters, 70/67 UCS-2 per part).
SMS_MAX_PARTS = env.int("SMS_MAX_PARTS", default=6)

# --- Browser security headers ----------------------------------------------------------
# Content-Security-Policy (django-csp): scripts and styles only from our own static files, no
# inline script or event handler anywhere (behaviour lives in static/js/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "media-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Permissions-Policy (config.middleware): browser features the dashboard never uses.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # One line per provider request is the ProviderLog's job, not the console's.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
# Dotted paths called by `load_demo` with the demo tenants (apps add their demo data).
DEMO_LOADERS = ["providers.demo.load_demo_connections"]

"""Settings for `make bench`: the test settings on a dedicated database (never the dev one),
without DEBUG's query log (it would grow without bound over a 100,000-message sync), with
their own Redis broker database and cache prefix."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.test import *  # noqa: F403
from config.settings.test import BASE_DIR, CACHES, DATABASES, REDIS_URL, env

if not str(DATABASES["default"]["NAME"]).endswith("_bench"):
    raise ImproperlyConfigured("bench.settings only runs on a database whose name ends in _bench")

DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
CACHES["default"]["KEY_PREFIX"] = "sb-bench"
CELERY_BROKER_URL = env("BENCH_BROKER_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/11")
MEDIA_ROOT = BASE_DIR / "var" / "bench-media"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

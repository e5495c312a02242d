"""Settings for `make soak`: the runtime settings (real worker, web server, sandbox process)
on a dedicated database, with their own Redis broker database and cache prefix. Addresses
(DATABASE_URL, SANDBOX_URL, PUBLIC_BASE_URL) come from scripts/soak.sh."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, DATABASES, REDIS_URL, env

if not str(DATABASES["default"]["NAME"]).endswith("_soak"):
    raise ImproperlyConfigured("bench.soak_settings only runs on a database whose name ends in _soak")

DEBUG = False
CACHES["default"]["KEY_PREFIX"] = "sb-soak"
CELERY_BROKER_URL = env("SOAK_BROKER_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/12")
# The sandbox stalls a "timeout" for 60 s: give up long before, as against a real provider.
PROVIDER_HTTP_TIMEOUT = env.float("PROVIDER_HTTP_TIMEOUT", default=3.0)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}

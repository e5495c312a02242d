"""Test settings: the same real Postgres and Redis, with faster hashing and isolated keys."""

from .base import *  # noqa: F403
from .base import env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES["default"]["KEY_PREFIX"] = "sb-test"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PUBLIC_BASE_URL = "http://testserver"
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# A separate Redis database for the tests' broker, so `make run` data is never touched.
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default=CELERY_BROKER_URL.rsplit("/", 1)[0] + "/9")  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"api_key": "100000/min"}  # noqa: F405
WEBHOOK_KICK_MS = 0  # every stored event enqueues the applier, so tests see it called
SEND_KICK_MS = 0  # every stored message enqueues its batch sender
WEBHOOK_ACCOUNT_CACHE_SECONDS = 0  # tests change accounts between requests

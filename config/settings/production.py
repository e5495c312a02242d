"""Production settings: `DJANGO_SETTINGS_MODULE=config.settings.production`.

Reads the real environment (and `.env`), never `var/local.env`; DEBUG is always off; HTTPS
only (HSTS, secure cookies, redirect to https), so `manage.py check --deploy` is clean.
Every value below can be tuned through the environment (see README, "Settings").
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import PRODUCTION, env

if not PRODUCTION:  # imported under another name: base.py would have read var/local.env
    raise ImproperlyConfigured("Use DJANGO_SETTINGS_MODULE=config.settings.production exactly.")

DEBUG = False
# No defaults for what identifies the deployment: fail loudly when they are missing.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Mail goes to a real server (EMAIL_URL, e.g. smtp+tls://user:pass@host:587), never a log.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="smtp://localhost:25")
vars().update(EMAIL_CONFIG)

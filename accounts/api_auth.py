"""API authentication: `Authorization: Bearer <api key>`, scoped to the key's tenant."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework import authentication, exceptions, throttling

from . import rls
from .models import ApiKey, hash_api_key

logger = logging.getLogger(__name__)

# last_used_at is written at most this often per key, so reads do not become writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0] != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        # cross-tenant: the key's secret is what identifies its tenant.
        with rls.rls_bypass("API key lookup by its hash", level=logging.DEBUG):
            key = (
                ApiKey.objects.select_related("tenant")
                .filter(key_hash=hash_api_key(parts[1]))
                .first()
            )
            if key is None or key.revoked_at is not None or not key.tenant.active:
                raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
            now = timezone.now()
            if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
                ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
                key.last_used_at = now
        return (ApiKeyUser(key), key)

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiKeyUser:
    """The principal behind an API key: authenticated, never staff, tied to one tenant."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    is_active = True

    def __init__(self, key: ApiKey):
        self.key = key
        self.pk = None
        self.id = None

    def __str__(self) -> str:
        return f"api-key:{self.key.prefix}"


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """Per key (or per user for session calls), answered with 429 and Retry-After."""

    scope = "api_key"

    def allow_request(self, request, view) -> bool:
        # The counter lives in Redis. While Redis is briefly away, answering every call with
        # a 500 is worse than not throttling for those seconds: fail open, and say so.
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("API throttle skipped: the cache is unavailable (%s)", type(exc).__name__)
            return True

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

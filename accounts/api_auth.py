"""API authentication: `Authorization: Bearer <api key>`, scoped to the key's tenant."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework import authentication, exceptions, throttling

from core import redis as core_redis
from core.db import RowReader, prepared_cursor

from . import rls
from .models import ApiKey, Tenant, hash_api_key

logger = logging.getLogger(__name__)

# last_used_at is written at most this often per key, so reads do not become writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


_KEY = RowReader(ApiKey, "k")
_TENANT = RowReader(Tenant, "t")
# cross-tenant: the key's secret is what identifies its tenant. The function (migration
# accounts/0004) reads the one key with this hash under a bypass that ends with it, so a
# request needs no bypass scope (and its two set_config round trips) of its own; and one
# hand-written statement instead of an ORM query, whose SQL Django would build anew on
# every request. Nothing is cached: a revoked key or a deactivated tenant is refused by
# the very next request, in every process.
_FIND_KEY_SQL = f"""
    SELECT {_KEY.select}, {_TENANT.select}
      FROM accounts_api_key_by_hash(%s) k JOIN {_TENANT.table} t ON t.id = k.tenant_id
"""  # noqa: S608 - names are ours, the hash is a parameter


def find_key(key_hash: str) -> ApiKey | None:
    """The key with this hash, with its tenant, whatever tenant the connection is set to."""
    with prepared_cursor() as cursor:
        cursor.execute(_FIND_KEY_SQL, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    key = _KEY.load(row[: _KEY.width])
    key.tenant = _TENANT.load(row[_KEY.width :])
    return key


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
        key = find_key(hash_api_key(parts[1]))
        if key is None or key.revoked_at is not None or not key.tenant.active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            with rls.tenant_context(key.tenant_id):
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
    """Per key (or per user for session calls), answered with 429 and Retry-After.

    A sliding-window counter, in one pipelined Redis round trip per request: a counter per
    identity and window of `duration` seconds, plus the previous window's count weighted by
    the share of it the sliding window still covers. (DRF's own throttle keeps a list of
    every request's time in one cache entry that each request reads and writes back whole:
    two round trips and up to `num_requests` timestamps unpickled and pickled per call.)
    The counter is taken before it is checked, so concurrent requests cannot both take the
    last unit; a refused request gives its unit back."""

    scope = "api_key"
    num_requests: int  # set from the rate by SimpleRateThrottle.__init__
    duration: int

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        # The counter lives in Redis. While Redis is briefly away, answering every call with
        # a 500 is worse than not throttling for those seconds: fail open, and say so.
        try:
            return self._take(ident)
        except (RedisError, OSError) as exc:
            logger.warning("API throttle skipped: the cache is unavailable (%s)", type(exc).__name__)
            return True

    def _take(self, ident: str) -> bool:
        now = self.timer()
        window, elapsed = divmod(now, self.duration)
        current, previous = (self.counter_key(ident, int(window) - back) for back in (0, 1))
        pipe = core_redis.client().pipeline()
        pipe.incr(current)
        pipe.pexpire(current, int(self.duration * 2000))  # the next window still reads it
        pipe.get(previous)
        taken, _, before = pipe.execute()
        before = int(before or 0)
        share = 1 - elapsed / self.duration  # of the previous window, inside the sliding one
        if before * share + taken <= self.num_requests:
            return True
        core_redis.client().decr(current)
        self._wait = self._retry_after(taken - 1, before, elapsed)
        return False

    def _retry_after(self, used: int, before: int, elapsed: float) -> float:
        """Seconds until one more request fits: when the previous window's weight has
        decayed enough, or when this window ends if it is full by itself."""
        room = self.num_requests - used - 1
        if room < 0 or before == 0:
            return self.duration - elapsed
        return max(self.duration * (1 - room / before) - elapsed, 0.001)

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)

    def counter_key(self, ident: str, window: int) -> str:
        return core_redis.key(f"{ident}:{window}")

    def forget(self, ident: str) -> None:
        """Drop an identity's counters (tests, an operator lifting a throttle)."""
        window = int(self.timer() // self.duration)
        core_redis.client().delete(*(self.counter_key(ident, window - back) for back in (0, 1)))

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

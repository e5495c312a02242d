"""One Redis client per process for the things Django's cache API cannot express
(atomic scripts, SET NX with a TTL)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def key(name: str) -> str:
    """A key under this deployment's cache prefix (tests and benchmarks use their own)."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'sb')}:{name}"

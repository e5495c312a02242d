"""Non-blocking Redis locks, so two syncs of one account can never overlap.

After rapidpro's cron lock (`temba/utils/crons/decorator.py`): `SET key token NX EX ttl`
to take it, a token-checked delete to release it (a holder whose lock expired never frees
somebody else's), and `refresh()` to extend it while work is still progressing, so the TTL
can stay short and a killed worker's lock frees itself quickly.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import redis
from django.conf import settings

# Delete / extend only when the key still holds our token.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
)

# Long enough for one page (fetch with retries + import); refreshed after every page.
SYNC_LOCK_TTL = 10 * 60


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _key(name: str) -> str:
    # The cache prefix keeps test and dev locks apart on a shared Redis.
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "sb")
    return f"{prefix}:lock:{name}"


class Lock:
    def __init__(self, name: str, ttl: int):
        self.key = _key(name)
        self.ttl = ttl
        self.token = secrets.token_hex(16)
        self.held = False

    def acquire(self) -> bool:
        self.held = bool(client().set(self.key, self.token, nx=True, ex=self.ttl))
        return self.held

    def refresh(self) -> bool:
        """Extend the TTL; False when the lock was lost (expired and maybe taken over)."""
        if not self.held:
            return False
        if not self.key:
            return True
        return bool(client().eval(_REFRESH, 1, self.key, self.token, self.ttl))

    def _held(self) -> Lock:
        """A lock that is not taken in Redis but counts as held (no cap)."""
        self.held = True
        self.key = ""
        return self

    def release(self) -> None:
        if self.held and self.key:
            client().eval(_RELEASE, 1, self.key, self.token)
            self.held = False


@contextmanager
def non_blocking_lock(name: str, ttl: int) -> Iterator[Lock]:
    """Yields the Lock; check `lock.held` — it is never waited for."""
    lock = Lock(name, ttl)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def sync_lock_name(account_id: int) -> str:
    return f"sync:account:{account_id}"


def sync_lock(account_id: int, ttl: int = SYNC_LOCK_TTL):
    return non_blocking_lock(sync_lock_name(account_id), ttl)


def is_sync_locked(account_id: int) -> bool:
    return bool(client().exists(_key(sync_lock_name(account_id))))


class _NoSlot:
    held = False

    def refresh(self) -> bool:
        return False


@contextmanager
def provider_slot(provider: str, slots: int, ttl: int = SYNC_LOCK_TTL) -> Iterator[Lock | _NoSlot]:
    """One of `slots` concurrent syncs against a provider (a counting semaphore made of
    `slots` non-blocking locks), so many tenants' syncs never hammer one provider. Yields a
    lock whose `held` is False when every slot is taken; 0 slots means no cap."""
    if slots <= 0:
        yield Lock("unused", ttl)._held()
        return
    for i in range(slots):
        with non_blocking_lock(f"sync:provider:{provider}:{i}", ttl) as lock:
            if lock.held:
                yield lock
                return
    yield _NoSlot()

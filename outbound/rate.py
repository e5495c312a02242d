"""The send-rate slot: each send through an account takes the account's next slot, spaced
1/rate seconds apart, atomically on Redis' clock (shared by every worker host).
Subaccounts share their root's connection, so its slots."""

from __future__ import annotations

from core import redis as core_redis
from providers.importing import owners
from providers.models import ProviderAccount

# Longer waits give the worker back: the task is retried when its slot comes.
MAX_INLINE_WAIT = 10.0

_SLOT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, nxt)
redis.call('SET', KEYS[1], tostring(at + tonumber(ARGV[1]) * tonumber(ARGV[3] or '1')), 'PX', ARGV[2])
return tostring(at - now)
"""


def send_slot_wait(account: ProviderAccount) -> float:
    """Seconds until this caller may send through `account` (0 when it may now)."""
    return send_slots_wait(account, 1)[0]


def send_slots_wait(account: ProviderAccount, count: int) -> tuple[float, float]:
    """Take `count` consecutive slots: (seconds until the first, seconds between them)."""
    rate = account.send_rate or 0
    if rate <= 0:
        return 0.0, 0.0
    root, _ = owners(account)
    interval = 1.0 / rate
    ttl_ms = max(1000, int(interval * 1000 * 10 * count))
    wait = core_redis.client().eval(
        _SLOT_SCRIPT, 1, core_redis.key(f"sendrate:{root.pk}"), repr(interval), ttl_ms, count
    )
    return max(0.0, float(wait)), interval

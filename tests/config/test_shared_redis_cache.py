"""The cache backend builds one Redis client per connection pool, not one per call."""

from __future__ import annotations

from django.core.cache import cache


def test_the_cache_reuses_one_redis_client_across_calls():
    cache.set("shared-client-probe", 1, 5)
    first = cache._cache.get_client(write=True)

    cache.get("shared-client-probe")

    assert cache._cache.get_client(write=True) is first


def test_the_shared_client_still_reads_what_it_wrote():
    cache.set("shared-client-value", {"a": 1}, 5)

    assert cache.get("shared-client-value") == {"a": 1}

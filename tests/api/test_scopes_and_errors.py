"""Scopes per action and the one error shape for 400/401/403/404/429."""

from __future__ import annotations

import pytest
import redis

from accounts.api_auth import ApiKeyRateThrottle
from accounts.models import ApiKey
from core import redis as core_redis

from .factories import provider_account

pytestmark = pytest.mark.django_db


def test_read_key_may_list(api, key_with_scopes):
    assert api(key_with_scopes("read")).get("/api/v1/messages/").status_code == 200


def test_read_key_cannot_write(api, key_with_scopes, tenant_a):
    client = api(key_with_scopes("read"))
    account = provider_account(tenant_a)
    response = client.patch(f"/api/v1/provider-accounts/{account.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "permission_denied",
        "message": "This action needs the 'manage' scope.",
    }
    assert client.post(f"/api/v1/provider-accounts/{account.pk}/sync/").status_code == 403


def test_send_key_cannot_manage_accounts(api, key_with_scopes):
    body = {"provider": "46elks", "name": "x", "credentials": {"username": "u", "password": "p"}}
    assert (
        api(key_with_scopes("read", "send"))
        .post("/api/v1/provider-accounts/", body, format="json")
        .status_code
        == 403
    )


def test_key_without_read_cannot_list(api, key_with_scopes):
    assert api(key_with_scopes("send")).get("/api/v1/calls/").status_code == 403


def test_400_names_the_fields(api_a):
    error = api_a.post("/api/v1/provider-accounts/", {}, format="json").json()["error"]
    assert error["code"] == "invalid"
    assert {"provider", "name"} <= set(error["fields"])


def test_401_without_a_key(api):
    response = api().get("/api/v1/messages/")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    }


def test_404_shape(api_a):
    response = api_a.get("/api/v1/messages/999999999/")
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_429_with_retry_after(api, tenant_a, monkeypatch):
    key, raw = ApiKey.issue(tenant_a, "busy")
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    ApiKeyRateThrottle().forget(f"throttle_api_key_key-{key.pk}")
    client = api(raw)
    statuses = [client.get("/api/v1/messages/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = client.get("/api/v1/messages/")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_the_previous_window_still_counts_at_the_start_of_the_next(api, tenant_a, monkeypatch):
    key, raw = ApiKey.issue(tenant_a, "busy")
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    now = [6_000_000 * 60 + 50.0]  # 50 s into a minute
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: now[0]))
    throttle, ident = ApiKeyRateThrottle(), f"throttle_api_key_key-{key.pk}"
    throttle.forget(ident)
    core_redis.client().delete(throttle.counter_key(ident, 6_000_001))  # the next minute
    client = api(raw)
    assert [client.get("/api/v1/messages/").status_code for _ in range(2)] == [200, 200]

    now[0] += 15  # 5 s into the next minute: the sliding minute still holds both requests
    refused = client.get("/api/v1/messages/")
    now[0] += 50  # 55 s into it: the previous minute's weight has decayed
    allowed = client.get("/api/v1/messages/")

    assert (refused.status_code, allowed.status_code) == (429, 200)
    assert int(refused["Retry-After"]) > 0


def test_throttle_fails_open_while_redis_is_down(api_a, monkeypatch, caplog):
    # A Redis on a port nothing listens on: every throttle call raises a connection error.
    dead = redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    monkeypatch.setattr(core_redis, "client", lambda: dead)
    response = api_a.get("/api/v1/messages/")
    assert response.status_code == 200
    assert "API throttle skipped: the cache is unavailable" in caplog.text

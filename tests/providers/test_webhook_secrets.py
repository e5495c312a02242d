"""Webhook secrets: owners and admins set or rotate them (API and dashboard), the secret
is shown once, signatures are checked with it (and the previous one during a rotation),
the sandbox signs with it, and an account whose provider signs but has no secret is flagged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditLog
from providers import services
from providers.models import ProviderAccount, WebhookEvent
from providers.sandbox_accounts import register_with_sandbox

pytestmark = pytest.mark.django_db

GOOD_SECRET = "a-long-enough-secret-0123456789"


@pytest.fixture
def callr(tenant_a, sandbox_account):
    return sandbox_account(tenant_a, "callr")


def url(account) -> str:
    return f"/api/v1/provider-accounts/{account.pk}/webhook-secret/"


def callr_event(client, account, secret: str, event_id: str = "e1"):
    body = json.dumps({"type": "billing.credit", "event_id": event_id, "data": {}}).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    path = account.webhook_url("events").replace("http://testserver", "")
    return client.post(path, body, content_type="application/json", HTTP_X_CALLR_HMACSIGNATURE=signature)


# -- API ---------------------------------------------------------------------------------------
def test_an_owner_key_sets_the_secret_and_sees_it_once(api_a, callr):
    response = api_a.post(url(callr), {"secret": GOOD_SECRET}, format="json")
    assert response.status_code == 200
    assert response.json()["secret"] == GOOD_SECRET
    assert response["Cache-Control"] == "no-store"
    shown = api_a.get(f"/api/v1/provider-accounts/{callr.pk}/")
    assert GOOD_SECRET not in shown.content.decode()
    assert (shown.json()["webhook_secret_set"], shown.json()["webhook_secret_missing"]) == (True, False)
    callr.refresh_from_db()
    assert callr.webhook_secret == GOOD_SECRET


def test_without_a_secret_one_is_generated(api_a, callr):
    secret = api_a.post(url(callr), {}, format="json").json()["secret"]
    callr.refresh_from_db()
    assert len(secret) >= 32 and callr.webhook_secret == secret


@pytest.mark.parametrize("bad", ["short", "has a space in it 0123456789", "comma,separated,0123456789"])
def test_an_unusable_secret_is_400(api_a, callr, bad):
    response = api_a.post(url(callr), {"secret": bad}, format="json")
    assert response.status_code == 400
    assert "secret" in response.json()["error"]["fields"]


@pytest.mark.parametrize("scopes", [("read",), ("read", "send")])
def test_keys_without_manage_cannot_set_it(api, key_with_scopes, callr, scopes):
    response = api(key_with_scopes(*scopes)).post(url(callr), {"secret": GOOD_SECRET}, format="json")
    assert response.status_code == 403


def test_another_tenants_account_is_404(api_b, callr):
    assert api_b.post(url(callr), {"secret": GOOD_SECRET}, format="json").status_code == 404


def test_setting_it_is_audited_without_the_secret(api_a, callr):
    api_a.post(url(callr), {"secret": GOOD_SECRET}, format="json")
    entry = AuditLog.objects.get(action="provider_account.webhook_secret")
    assert GOOD_SECRET not in json.dumps(entry.data)


def test_clearing_it_leaves_only_the_token(api_a, callr):
    assert api_a.delete(url(callr)).status_code == 204
    callr.refresh_from_db()
    assert callr.webhook_secret == ""


# -- checking signatures through a rotation ------------------------------------------------------------
def test_after_a_rotation_both_secrets_are_accepted_for_the_grace_period(client, callr):
    old = callr.webhook_secret
    services.set_webhook_secret(callr, GOOD_SECRET, keep_previous=True)
    assert callr_event(client, callr, GOOD_SECRET, "new").status_code == 200
    assert callr_event(client, callr, old, "old").status_code == 200
    assert callr_event(client, callr, "some-other-secret-0123456789", "forged").status_code == 403


def test_the_previous_secret_stops_working_after_the_grace_period(client, callr, settings):
    old = callr.webhook_secret
    services.set_webhook_secret(callr, GOOD_SECRET, keep_previous=True)
    data = callr._webhook_secret_data
    callr.set_webhook_secret(GOOD_SECRET, keep_previous_until=timezone.now() - timedelta(seconds=1))
    callr.save()
    assert data["previous"] == old
    assert callr_event(client, callr, old, "late").status_code == 403


def test_a_rotation_without_keeping_the_old_secret_refuses_it_at_once(client, callr):
    old = callr.webhook_secret
    services.set_webhook_secret(callr, GOOD_SECRET, keep_previous=False)
    assert callr_event(client, callr, old, "old").status_code == 403
    assert callr_event(client, callr, GOOD_SECRET, "new").status_code == 200


# -- the sandbox signs with the secret the tenant set ---------------------------------------------------
@pytest.mark.django_db(transaction=True)  # the WSGI handler closes connections between requests
def test_the_sandbox_signs_jambonz_webhooks_with_the_secret_set_here(
    api_a, tenant_a, sandbox, sandbox_account, deliver_webhooks
):
    account = sandbox_account(tenant_a, "jambonz")
    services.clear_webhook_secret(account)  # as if connected without one
    twin = sandbox.find_account("jambonz", api_key=account.credentials["api_key"])
    sandbox.emit("jambonz", twin, "sms", text="before")
    assert [h.status for h in deliver_webhooks()] == [403]  # unverifiable: refused, flagged
    assert api_a.get(f"/api/v1/provider-accounts/{account.pk}/").json()["webhook_secret_missing"]

    api_a.post(url(account), {"secret": GOOD_SECRET}, format="json")
    account.refresh_from_db()
    register_with_sandbox(sandbox, [account], known={})  # what `run_sandbox` does on its rescan
    sandbox.emit("jambonz", twin, "sms", text="after")
    statuses = [h.status for h in deliver_webhooks()]
    assert 200 in statuses
    assert WebhookEvent.objects.filter(account=account, kind="sms").count() == 1


def test_a_changed_secret_is_registered_again_and_an_unchanged_one_is_not(tenant_a, sandbox, sandbox_account):
    account = sandbox_account(tenant_a, "callr")
    known: dict[int, str] = {}
    assert register_with_sandbox(sandbox, [account], known) == 1
    assert register_with_sandbox(sandbox, [account], known) == 0
    services.set_webhook_secret(account, GOOD_SECRET)
    assert register_with_sandbox(sandbox, [account], known) == 1
    assert sandbox.find_account("callr", api_key=account.credentials["api_key"]).webhook_secret == GOOD_SECRET


# -- dashboard ---------------------------------------------------------------------------------
def _post(client, tenant, account, **data):
    return client.post(reverse("provider-webhook-secret", args=[tenant.slug, account.pk]), data)


def test_an_owner_sets_it_in_the_dashboard_and_sees_it_once(login, owner_a, tenant_a, callr):
    client = login(owner_a)
    response = _post(client, tenant_a, callr, secret=GOOD_SECRET)
    assert response.status_code == 200
    assert GOOD_SECRET in response.content.decode() and "never shown again" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    detail = client.get(reverse("provider-account", args=[tenant_a.slug, callr.pk])).content.decode()
    assert GOOD_SECRET not in detail and "Rotate secret" in detail


@pytest.mark.parametrize("role", ["member_a", "viewer_a"])
def test_members_and_viewers_cannot_set_it(request, login, tenant_a, callr, role):
    response = _post(login(request.getfixturevalue(role)), tenant_a, callr, secret=GOOD_SECRET)
    assert response.status_code == 403
    callr.refresh_from_db()
    assert callr.webhook_secret != GOOD_SECRET


def test_an_unusable_secret_is_shown_as_an_error(login, owner_a, tenant_a, callr):
    response = _post(login(owner_a), tenant_a, callr, secret="short")
    assert response.status_code == 400
    assert "without spaces or commas" in response.content.decode()


def test_an_account_whose_provider_signs_but_has_no_secret_is_flagged(
    login, owner_a, tenant_a, callr, sandbox_account
):
    elks = sandbox_account(tenant_a, "46elks")  # 46elks does not sign: nothing to flag
    services.clear_webhook_secret(callr)
    client = login(owner_a)
    listing = client.get(reverse("provider-accounts", args=[tenant_a.slug])).content.decode()
    assert listing.count("no webhook secret") == 1
    detail = client.get(reverse("provider-account", args=[tenant_a.slug, callr.pk])).content.decode()
    assert "No webhook secret is set" in detail
    assert (
        "No webhook secret is set"
        not in client.get(reverse("provider-account", args=[tenant_a.slug, elks.pk])).content.decode()
    )
    assert ProviderAccount.objects.get(pk=elks.pk).webhook_secret_missing is False

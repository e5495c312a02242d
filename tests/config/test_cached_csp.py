"""config.middleware.CachedCSPMiddleware: the settings' policy built once, with the same
header django-csp builds; a view's own policy and changed settings are still honoured."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from csp.middleware import PolicyParts
from csp.utils import build_policy
from django.test import override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_page_carries_the_policy_django_csp_builds(client):
    response = client.get(reverse("login"))
    assert response["Content-Security-Policy"] == build_policy(**asdict(PolicyParts()))


def test_a_view_with_its_own_policy_keeps_it(client, member_a):
    client.force_login(member_a)
    policy = client.get(reverse("api-docs"))["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy


def test_changed_settings_change_the_header(client):
    client.get(reverse("login"))  # the settings' policy is built and kept
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        assert client.get(reverse("login"))["Content-Security-Policy"] == "default-src 'none'"
    assert "script-src 'self'" in client.get(reverse("login"))["Content-Security-Policy"]


def test_a_delivery_report_answer_carries_the_policy(client, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks", seed=2, size=5)
    response = client.post(
        f"/hooks/46elks/{account.webhook_token}/dlr/",
        "id=unknown-id&status=delivered",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == build_policy(**asdict(PolicyParts()))

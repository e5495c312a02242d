"""Login throttling (django-axes) on the dashboard and the admin: after LOGIN_FAILURE_LIMIT
wrong passwords the account is locked for a while, even against the right password."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

WRONG_TRIES = 20


def _try(client, url, email, password, **extra):
    return client.post(url, {"username": email, "password": password}, **extra)


def test_many_wrong_passwords_lock_the_dashboard_login(client, member_a):
    statuses = [
        _try(client, reverse("login"), "member@a.test", f"guess-{i}").status_code for i in range(WRONG_TRIES)
    ]
    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(statuses[settings.AXES_FAILURE_LIMIT :]) == {429}
    locked = _try(client, reverse("login"), "member@a.test", "pw")
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session


def test_the_lockout_ignores_the_case_of_the_email(client, member_a):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _try(client, reverse("login"), "member@a.test", f"guess-{i}")
    assert _try(client, reverse("login"), "MEMBER@A.TEST", "pw").status_code == 429


def test_the_lockout_holds_from_another_address(client, member_a):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _try(client, reverse("login"), "member@a.test", f"guess-{i}", REMOTE_ADDR="203.0.113.5")
    response = _try(client, reverse("login"), "member@a.test", "pw", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 429


def test_one_address_guessing_many_emails_is_locked(client, member_a, owner_a):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _try(client, reverse("login"), f"nobody{i}@a.test", "guess", REMOTE_ADDR="203.0.113.9")
    assert _try(client, reverse("login"), "owner@a.test", "pw", REMOTE_ADDR="203.0.113.9").status_code == 429


def test_a_few_wrong_passwords_then_the_right_one_logs_in(client, member_a, tenant_a):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        _try(client, reverse("login"), "member@a.test", f"guess-{i}")
    response = _try(client, reverse("login"), "member@a.test", "pw")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member_a.pk)


def test_many_wrong_passwords_lock_the_admin_login(client, staff):
    url = reverse("admin:login")
    statuses = [_try(client, url, staff.email, f"guess-{i}").status_code for i in range(WRONG_TRIES)]
    assert set(statuses[settings.AXES_FAILURE_LIMIT :]) == {429}
    assert _try(client, url, staff.email, "pw").status_code == 429
    assert "_auth_user_id" not in client.session

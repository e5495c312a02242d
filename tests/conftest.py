"""Shared two-tenant fixtures every test builds on.

Tenant A has an owner, a member and a viewer; tenant B has its own owner; an outsider
belongs to no tenant; staff is an operator. Passwords are all `pw`.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership, Role, Tenant, User

PASSWORD = "pw"


# -- row-level security ------------------------------------------------------------------------
# The test database is created and migrated as the schema owner; tests then connect as the
# application role (DATABASE_URL), so row-level security applies to everything they run.
# Test code itself (fixtures building two tenants' rows, assertions) works across tenants:
# the main thread starts in a bypass. Requests (middleware), tasks (their decorators and
# signals) and the worker and live-server threads set their own state, as in production.
def _use_db_role(user: str, password: str) -> None:
    from django.db import connections

    conn = connections["default"]
    conn.close()
    conn.settings_dict["USER"], conn.settings_dict["PASSWORD"] = user, password


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings):
    from django.conf import settings

    if settings.DATABASE_OWNER_USER:
        _use_db_role(settings.DATABASE_OWNER_USER, settings.DATABASE_OWNER_PASSWORD)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.conf import settings

    _use_db_role(settings.DATABASE_APP_USER, settings.DATABASE_APP_PASSWORD)
    yield
    if settings.DATABASE_OWNER_USER:  # the owner drops the test database (without --reuse-db)
        _use_db_role(settings.DATABASE_OWNER_USER, settings.DATABASE_OWNER_PASSWORD)


@pytest.fixture
def owner_sql():
    """owner_sql("ANALYZE t") -> run a statement on its own connection as the schema owner
    (maintenance the application role may not do). It does not see the test's uncommitted rows."""
    import psycopg
    from django.conf import settings
    from django.db import connection

    def run(statement: str, params=None, *, setup: tuple[str, ...] = ()) -> list[tuple]:
        connect = connection.get_connection_params()
        connect.pop("cursor_factory", None)
        connect.pop("context", None)
        connect.update(user=settings.DATABASE_OWNER_USER or connect.get("user"))
        connect.update(password=settings.DATABASE_OWNER_PASSWORD or None)
        with psycopg.connect(**connect, autocommit=True) as conn:
            for first in setup:
                conn.execute(first)
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    return run


@pytest.fixture(scope="session", autouse=True)
def _tests_see_every_tenant():
    from accounts import rls

    rls._state.set(rls.RlsState(bypass=True))  # this thread only; no token: for the session
    rls._apply()


def _user(email: str, **extra) -> User:
    return User.objects.create_user(email, PASSWORD, **extra)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant.objects.create(
        name="Tenant A", slug="tenant-a", timezone="Europe/Stockholm", default_currency="SEK"
    )


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant.objects.create(
        name="Tenant B", slug="tenant-b", timezone="Europe/London", default_currency="GBP"
    )


def _member(tenant: Tenant, email: str, role: str) -> User:
    user = _user(email)
    Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


@pytest.fixture
def owner_a(tenant_a) -> User:
    return _member(tenant_a, "owner@a.test", Role.OWNER)


@pytest.fixture
def member_a(tenant_a) -> User:
    return _member(tenant_a, "member@a.test", Role.MEMBER)


@pytest.fixture
def viewer_a(tenant_a) -> User:
    return _member(tenant_a, "viewer@a.test", Role.VIEWER)


@pytest.fixture
def user_b(tenant_b) -> User:
    return _member(tenant_b, "owner@b.test", Role.OWNER)


@pytest.fixture
def outsider(db) -> User:
    return _user("outsider@nowhere.test")


@pytest.fixture
def staff(db) -> User:
    return _user("operator@switchboard.test", is_staff=True, is_superuser=True)


@pytest.fixture
def login(client):
    """login(user) -> the Django test client, logged in as that user."""

    def _login(user: User):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def api_key_a(tenant_a, owner_a) -> str:
    """A raw API key of tenant A with every scope."""
    return ApiKey.issue(tenant_a, "tests", created_by=owner_a)[1]


@pytest.fixture
def api_key_b(tenant_b, user_b) -> str:
    return ApiKey.issue(tenant_b, "tests", created_by=user_b)[1]


@pytest.fixture
def api():
    """api(raw_key=None) -> a DRF APIClient sending `Authorization: Bearer <key>`."""

    def _client(raw_key: str | None = None) -> APIClient:
        client = APIClient()
        if raw_key:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return _client


@pytest.fixture
def api_a(api, api_key_a) -> APIClient:
    return api(api_key_a)


@pytest.fixture
def api_b(api, api_key_b) -> APIClient:
    return api(api_key_b)


@pytest.fixture
def key_with_scopes(tenant_a, owner_a):
    """key_with_scopes("read") -> a raw key of tenant A with just those scopes."""

    def _key(*scopes: str) -> str:
        return ApiKey.issue(tenant_a, "scoped", list(scopes), created_by=owner_a)[1]

    return _key


# -- provider sandbox ------------------------------------------------------------------------
@pytest.fixture
def sandbox(monkeypatch):
    """An in-process provider sandbox; every adapter built for an account talks to it."""
    from providers import connect
    from sandbox import Sandbox

    sb = Sandbox()
    sb.sleep = lambda seconds: None
    monkeypatch.setattr(connect, "transport_factory", lambda account: sb.transport())
    return sb


@pytest.fixture
def sandbox_account(sandbox):
    """sandbox_account(tenant, "46elks", seed=1, size=50) -> a ProviderAccount whose twin
    lives in the sandbox (same credentials, seeded history, webhooks to /hooks/...)."""
    from providers.sandbox_accounts import connect_sandbox_account, sandbox_registration

    counter = iter(range(1, 10_000))

    def make(tenant, provider: str = "46elks", *, seed: int = 1, size: int = 50, label: str = "", **fields):
        label = label or f"{tenant.slug}-{provider}-{next(counter)}"
        account = connect_sandbox_account(
            tenant, provider, "http://sandbox", label=label, seed=seed, size=size, **fields
        )
        reg = sandbox_registration(account)
        sandbox.add_account(
            provider,
            reg["credentials"],
            remote_id=reg["remote_id"],
            seed=seed,
            size=size,
            webhook_base=reg["webhook_base"],
            webhook_secret=reg["webhook_secret"],
        )
        return account

    return make


@pytest.fixture
def deliver_webhooks(sandbox):
    """deliver_webhooks() -> POST every pending sandbox webhook into our Django app."""
    import httpx
    from django.core.handlers.wsgi import WSGIHandler

    def deliver():
        with httpx.Client(
            transport=httpx.WSGITransport(app=WSGIHandler()), base_url="http://testserver"
        ) as client:
            return sandbox.deliver_webhooks(client)

    return deliver


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    # Stored recordings and media land in a per-test directory.
    settings.MEDIA_ROOT = tmp_path / "media"

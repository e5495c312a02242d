"""Row-level security: the second wall behind the ORM's tenant filter (docs/security.md).

These go around the ORM on purpose: raw SQL through the application role's connection."""

from __future__ import annotations

import logging

import pytest
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from accounts import rls, rls_setup
from accounts.models import ApiKey, AuditLog, Tenant
from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


def tenant_ids_of(table: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT tenant_id FROM {table}")
        return {row[0] for row in cursor.fetchall()}


def setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        return cursor.fetchone()[0] or ""


@pytest.fixture
def two_tenants_rows(tenant_a, tenant_b, owner_a, user_b):
    for tenant, user in ((tenant_a, owner_a), (tenant_b, user_b)):
        ApiKey.issue(tenant, "k", created_by=user)
        AuditLog.objects.create(tenant=tenant, actor=user, action="test.row")
    return tenant_a, tenant_b


def test_the_app_connects_as_a_role_without_superuser_or_bypassrls():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        user, superuser, bypassrls = cursor.fetchone()
    assert user == settings.DATABASE_APP_USER
    assert user != settings.DATABASE_OWNER_USER
    assert (superuser, bypassrls) == (False, False)


def test_a_raw_query_as_tenant_a_cannot_read_tenant_b_rows(two_tenants_rows):
    tenant_a, tenant_b = two_tenants_rows
    with rls.tenant_context(tenant_a):
        assert tenant_ids_of("accounts_apikey") == {tenant_a.pk}
        assert tenant_ids_of("accounts_auditlog") == {tenant_a.pk}
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_apikey WHERE tenant_id = %s", [tenant_b.pk])
            assert cursor.fetchone()[0] == 0


def test_a_raw_query_with_no_tenant_set_reads_nothing(two_tenants_rows):
    with rls.no_tenant():
        assert tenant_ids_of("accounts_apikey") == set()
        assert tenant_ids_of("accounts_membership") == set()


def test_the_orm_as_tenant_a_finds_no_row_of_tenant_b_even_unfiltered(two_tenants_rows):
    tenant_a, tenant_b = two_tenants_rows
    key_b = ApiKey.objects.for_tenant(tenant_b).get()
    with rls.tenant_context(tenant_a.pk):
        assert not ApiKey.objects.filter(pk=key_b.pk).exists()
        assert set(ApiKey.objects.values_list("tenant_id", flat=True)) == {tenant_a.pk}


def test_tenant_a_cannot_insert_a_row_for_tenant_b(two_tenants_rows):
    tenant_a, tenant_b = two_tenants_rows
    forged = pytest.raises(DatabaseError, match="row-level security")
    with rls.tenant_context(tenant_a), forged, transaction.atomic():
        AuditLog.objects.create(tenant=tenant_b, action="test.forged")


def test_tenant_a_cannot_change_or_delete_tenant_b_rows(two_tenants_rows):
    tenant_a, tenant_b = two_tenants_rows
    with rls.tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_auditlog SET summary = 'x' WHERE tenant_id = %s", [tenant_b.pk])
        assert cursor.rowcount == 0
        cursor.execute("DELETE FROM accounts_apikey WHERE tenant_id = %s", [tenant_b.pk])
        assert cursor.rowcount == 0
    assert ApiKey.objects.for_tenant(tenant_b).count() == 1


def test_a_user_reads_their_own_memberships_without_a_tenant(owner_a, user_b):
    with rls.no_tenant(), rls_user(owner_a.pk), connection.cursor() as cursor:
        cursor.execute("SELECT user_id FROM accounts_membership")
        assert {row[0] for row in cursor.fetchall()} == {owner_a.pk}


def rls_user(user_id: int):
    return rls._scope(rls.RlsState(user_id=user_id))


def test_the_app_role_cannot_truncate_or_disable_row_security():
    for statement in ("TRUNCATE accounts_apikey", "ALTER TABLE accounts_apikey DISABLE ROW LEVEL SECURITY"):
        refused = pytest.raises(DatabaseError, match=r"permission denied|must be owner")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


# -- every tenant-owned table is covered --------------------------------------------------------
def protected_tables() -> dict[str, tuple[bool, bool, set[str]]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   coalesce(array_agg(p.policyname) FILTER (WHERE p.policyname IS NOT NULL), '{}')
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            LEFT JOIN pg_policies p ON p.schemaname = n.nspname AND p.tablename = c.relname
            WHERE c.relkind IN ('r', 'p')
            GROUP BY 1, 2, 3
            """
        )
        return {name: (enabled, forced, set(names)) for name, enabled, forced, names in cursor.fetchall()}


def test_every_model_with_a_tenant_id_has_a_forced_tenant_policy():
    tables = protected_tables()
    owned = rls_setup.tenant_owned_tables(apps)
    assert "messaging_message" in owned and "accounts_membership" in owned
    missing = [
        t
        for t in owned
        if t not in tables or not (tables[t][0] and tables[t][1] and rls_setup.POLICY in tables[t][2])
    ]
    assert missing == [], f"tenant-owned tables without a forced {rls_setup.POLICY} policy: {missing}"


def test_every_table_with_a_tenant_id_column_has_a_forced_tenant_policy():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = 'tenant_id'"
        )
        with_column = sorted({row[0] for row in cursor.fetchall()})
    tables = protected_tables()
    assert with_column, "no tenant_id column found at all"
    unprotected = [
        t for t in with_column if not (tables[t][0] and tables[t][1] and rls_setup.POLICY in tables[t][2])
    ]
    assert unprotected == [], f"tables with tenant_id but no forced {rls_setup.POLICY} policy: {unprotected}"


def test_every_model_pointing_at_a_tenant_does_so_through_tenant_id():
    odd = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.local_concrete_fields
        if field.is_relation and field.related_model is Tenant and field.column != rls_setup.TENANT_COLUMN
    ]
    assert odd == [], f"tenant references the policies do not know: {odd}"


def test_every_task_declares_its_tenancy():
    celery_app.autodiscover_tasks(lambda: settings.INSTALLED_APPS, force=True)
    ours = ("accounts.", "providers.", "numbers.", "messaging.", "calls.", "billing.", "core.")
    undeclared = [
        name
        for name, task in celery_app.tasks.items()
        if name.startswith(ours) and getattr(task.run, "rls_tenancy", None) not in ("tenant", "bypass")
    ]
    assert undeclared == [], f"tasks without @runs_in_tenant_of / @cross_tenant_task: {undeclared}"


# -- the settings follow the code that runs -----------------------------------------------------
def test_a_scope_puts_the_connection_back_as_it_found_it(tenant_a):
    with rls.no_tenant():
        with rls.tenant_context(tenant_a):
            assert setting(rls.TENANT_SETTING) == str(tenant_a.pk)
            assert setting(rls.BYPASS_SETTING) == ""
        assert setting(rls.TENANT_SETTING) == ""
    assert setting(rls.BYPASS_SETTING) == "on"  # the tests' own state


@pytest.mark.django_db(transaction=True)  # closes the connection
def test_a_new_connection_gets_the_current_state(tenant_a):
    with rls.tenant_context(tenant_a):
        connection.close()
        assert setting(rls.TENANT_SETTING) == str(tenant_a.pk)


def test_a_bypass_is_logged_with_its_reason(caplog):
    with caplog.at_level(logging.INFO, logger="switchboard.rls"), rls.rls_bypass("a test's reason"):
        pass
    assert "rls bypass: a test's reason" in caplog.text


def test_a_request_leaves_the_connection_as_it_found_it(login, owner_a):
    client = login(owner_a)
    with rls.no_tenant():
        response = client.get(reverse("members", args=["tenant-a"]))
        assert response.status_code == 200
        assert (setting(rls.TENANT_SETTING), setting(rls.USER_SETTING)) == ("", "")
    assert setting(rls.BYPASS_SETTING) == "on"


def test_a_dashboard_request_runs_as_its_tenant(login, owner_a, tenant_a, monkeypatch):
    from accounts import views

    seen = {}
    real = views._members_page

    def spy(request, *args, **kwargs):
        seen["tenant"], seen["user"] = setting(rls.TENANT_SETTING), setting(rls.USER_SETTING)
        return real(request, *args, **kwargs)

    monkeypatch.setattr(views, "_members_page", spy)
    assert login(owner_a).get(reverse("members", args=["tenant-a"])).status_code == 200
    assert seen == {"tenant": str(tenant_a.pk), "user": str(owner_a.pk)}


def test_an_api_request_runs_as_its_keys_tenant(api_a, tenant_a, monkeypatch):
    from accounts.api import TenantViewSet

    seen = {}
    real = TenantViewSet.current

    def spy(self, request):
        seen["tenant"], seen["bypass"] = setting(rls.TENANT_SETTING), setting(rls.BYPASS_SETTING)
        return real(self, request)

    monkeypatch.setattr(TenantViewSet, "current", spy)
    assert api_a.get("/api/v1/tenant/current/").status_code == 200
    assert seen == {"tenant": str(tenant_a.pk), "bypass": ""}


def test_a_task_runs_as_the_tenant_of_its_row(two_tenants_rows):
    tenant_a, _ = two_tenants_rows
    key_a = ApiKey.objects.for_tenant(tenant_a).get()
    seen = {}

    @rls.runs_in_tenant_of(key_id=ApiKey)
    def task(key_id):
        seen["tenants"] = set(ApiKey.objects.values_list("tenant_id", flat=True))
        seen["setting"] = setting(rls.TENANT_SETTING)

    task(key_a.pk)
    assert seen == {"tenants": {tenant_a.pk}, "setting": str(tenant_a.pk)}


def test_a_task_whose_row_is_gone_sees_nothing(two_tenants_rows):
    seen = {}

    @rls.runs_in_tenant_of(key_id=ApiKey)
    def task(key_id):
        seen["count"] = ApiKey.objects.count()

    task(10**9)
    assert seen == {"count": 0}


def test_a_streamed_body_is_produced_as_the_requests_tenant(two_tenants_rows, rf):
    from django.http import StreamingHttpResponse

    tenant_a, _ = two_tenants_rows

    def rows():
        yield ",".join(str(t) for t in sorted(ApiKey.objects.values_list("tenant_id", flat=True)))

    def view(request):
        rls.activate_request_tenant(tenant_a)
        return StreamingHttpResponse(rows())

    response = rls.RlsMiddleware(view)(rf.get("/export.csv"))
    with rls.no_tenant():  # as in a server thread: the body is read after the middleware returned
        body = b"".join(response.streaming_content).decode()
        assert setting(rls.TENANT_SETTING) == ""  # put back once exhausted
    assert body == str(tenant_a.pk)


def test_setting_the_tenant_outside_a_request_is_refused(tenant_a):
    with pytest.raises(RuntimeError, match="outside a request"):
        rls.activate_request_tenant(tenant_a)


@pytest.mark.django_db(transaction=True)  # kills the test's connection
def test_a_connection_that_went_away_is_replaced_with_the_state_set(tenant_a, owner_sql):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    owner_sql("SELECT pg_terminate_backend(%s)", [pid])
    with rls.tenant_context(tenant_a):  # cannot be set on the dead connection: it is closed
        assert connection.connection is None
        assert setting(rls.TENANT_SETTING) == str(tenant_a.pk)  # a new one, set on connect


def test_the_staff_admin_lists_every_tenants_rows(two_tenants_rows, staff, login):
    with rls.no_tenant():  # as a server thread: only the admin's own bypass can show them
        page = login(staff).get(reverse("admin:accounts_apikey_changelist"))
    assert page.status_code == 200
    prefixes = ApiKey.objects.values_list("prefix", flat=True)
    assert len(prefixes) == 2 and all(prefix in page.content.decode() for prefix in prefixes)


@pytest.mark.django_db(transaction=True)  # the other thread's connection sees committed rows only
def test_a_new_thread_sees_no_tenant_rows_until_it_sets_one(two_tenants_rows):
    import threading

    from django.db import connections

    tenant_a, _ = two_tenants_rows
    seen = {}

    def other_thread():
        try:
            seen["nothing set"] = ApiKey.objects.count()
            with rls.tenant_context(tenant_a):
                seen["as tenant A"] = set(ApiKey.objects.values_list("tenant_id", flat=True))
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen == {"nothing set": 0, "as tenant A": {tenant_a.pk}}
    assert ApiKey.objects.count() == 2  # this (test) thread's own state is untouched

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_member_enters_own_tenant(login, member_a, tenant_a):
    response = login(member_a).get(reverse("tenant-home", args=[tenant_a.slug]))
    assert response.status_code == 200
    assert response.context["tenant"] == tenant_a


def test_other_tenant_is_404(login, member_a, tenant_b):
    response = login(member_a).get(reverse("tenant-home", args=[tenant_b.slug]))
    assert response.status_code == 404


def test_outsider_gets_404_for_any_tenant(login, outsider, tenant_a):
    assert login(outsider).get(reverse("tenant-home", args=[tenant_a.slug])).status_code == 404


def test_unknown_tenant_is_404(login, member_a):
    assert login(member_a).get("/t/no-such-tenant/").status_code == 404


def test_anonymous_is_sent_to_login(client, tenant_a):
    response = client.get(reverse("tenant-home", args=[tenant_a.slug]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_staff_may_enter_any_tenant(login, staff, tenant_b):
    assert login(staff).get(reverse("tenant-home", args=[tenant_b.slug])).status_code == 200


def test_inactive_tenant_is_404_for_members(login, member_a, tenant_a):
    tenant_a.active = False
    tenant_a.save()
    assert login(member_a).get(reverse("tenant-home", args=[tenant_a.slug])).status_code == 404


def test_home_redirects_a_single_tenant_user_into_it(login, member_a, tenant_a):
    response = login(member_a).get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("tenant-home", args=[tenant_a.slug])


def test_switcher_lists_every_tenant_of_a_multi_tenant_user(login, member_a, tenant_a, tenant_b):
    from accounts.models import Membership

    Membership.objects.create(user=member_a, tenant=tenant_b, role="viewer")
    response = login(member_a).get(reverse("home"))
    assert response.status_code == 200
    assert set(response.context["tenants"]) == {tenant_a, tenant_b}
    page = login(member_a).get(reverse("tenant-home", args=[tenant_a.slug])).content.decode()
    assert reverse("tenant-home", args=[tenant_b.slug]) in page


def test_for_tenant_scopes_rows(tenant_a, tenant_b, owner_a, user_b):
    from accounts.models import ApiKey

    ApiKey.issue(tenant_a, "a")
    ApiKey.issue(tenant_b, "b")
    assert [k.name for k in ApiKey.objects.for_tenant(tenant_a)] == ["a"]

import pytest
from django.urls import reverse

from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["tenant", "user", "membership", "apikey"])
def test_admin_changelists_load(login, staff, model, member_a, api_key_a):
    response = login(staff).get(reverse(f"admin:accounts_{model}_changelist"))
    assert response.status_code == 200


def test_admin_never_shows_key_secret_or_hash(login, staff, tenant_a):
    key, raw = ApiKey.issue(tenant_a, "secret")
    page = login(staff).get(reverse("admin:accounts_apikey_change", args=[key.pk])).content.decode()
    assert raw not in page
    assert key.key_hash not in page


def test_non_staff_cannot_use_admin(login, owner_a):
    response = login(owner_a).get(reverse("admin:index"))
    assert response.status_code == 302

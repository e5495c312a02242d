import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model", ["dailyusage", "billingsettings", "usagecounter", "balancesnapshot", "notification"]
)
def test_billing_admin_changelists_load(login, staff, model):
    assert login(staff).get(reverse(f"admin:billing_{model}_changelist")).status_code == 200

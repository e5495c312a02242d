"""Every model of our apps is in the admin, and each changelist loads for an operator."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

APPS = ["accounts", "providers", "numbers", "messaging", "calls", "billing"]
# Shown inline on their parent's page instead of a changelist of their own.
INLINE_ONLY = {"calls.CallLeg"}

MODELS = [
    m for app in APPS for m in apps.get_app_config(app).get_models() if m._meta.label not in INLINE_ONLY
]


@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label for m in MODELS])
def test_every_model_is_registered(model):
    assert model in admin.site._registry


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label for m in MODELS])
def test_every_changelist_loads_for_staff(login, staff, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert login(staff).get(url).status_code == 200

"""One registry of providers: the model's choices, the connect form and the demo are built
from it, and what differs per provider is asked of the adapter class."""

from __future__ import annotations

import pytest
from django import forms

from providers.adapters.base import Adapter
from providers.adapters.registry import SECRET_CREDENTIALS, adapter_classes, choices, codes
from providers.forms import ConnectForm
from providers.models import ProviderAccount


def test_the_models_provider_choices_are_the_registry():
    assert list(ProviderAccount._meta.get_field("provider").choices) == choices()


def test_the_connect_form_offers_every_registered_provider():
    assert [code for code, _ in ConnectForm().fields["provider"].choices] == list(codes())


@pytest.mark.parametrize("cls", adapter_classes(), ids=lambda cls: cls.code)
def test_the_connect_form_has_a_field_for_each_credential_the_provider_takes(cls):
    fields = ConnectForm().fields

    assert [key for key in cls.credential_keys() if key not in fields] == []


def test_secret_credentials_are_never_shown_as_typed():
    fields = ConnectForm().fields

    assert {key for key in fields if isinstance(fields[key].widget, forms.PasswordInput)} == (
        SECRET_CREDENTIALS & set(fields)
    )


@pytest.mark.parametrize("cls", adapter_classes(), ids=lambda cls: cls.code)
def test_a_provider_that_needs_a_base_url_says_so_by_name(cls):
    missing = cls.missing_base_url("")

    assert (cls.name in missing) if cls.base_url_required else missing == ""
    assert cls.missing_base_url("https://api.example.com/v1") == ""


def test_a_subaccount_without_credentials_of_its_own_is_not_synced_by_default():
    identity = Adapter.subaccount_identity(lambda: {"username": "parent"}, "child-1")

    assert identity.unusable

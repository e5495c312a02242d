"""Dashboard forms of provider accounts: connect (the credential fields of every provider in
the registry, labelled as each provider calls them), edit, webhook secret, subaccount."""

from __future__ import annotations

from typing import cast

from django import forms
from django.http import QueryDict

from . import services
from .adapters import NotSupported, registry
from .adapters.base import CREDENTIAL_LABELS
from .adapters.registry import adapter_class
from .models import ProviderAccount

# Every credential key any provider accepts; the form shows those of the chosen provider
# (static/js/connect.js), labelled as that provider calls them, and the adapter validates the shape.
CREDENTIAL_FIELDS = registry.credential_keys()


def credential_keys(provider: str) -> list[str]:
    return adapter_class(provider).credential_keys()


def credential_field(key: str, label: str) -> forms.CharField:
    secret = key in registry.SECRET_CREDENTIALS
    return forms.CharField(
        required=False,
        label=label,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}) if secret else None,
    )


class ConnectForm(forms.Form):
    provider = forms.ChoiceField(choices=registry.choices)
    name = forms.CharField(max_length=120, help_text="How this account appears in Switchboard.")
    base_url = forms.CharField(
        required=False, max_length=200, label="Base URL", help_text=registry.base_url_help()
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in CREDENTIAL_FIELDS:
            self.fields[key] = credential_field(key, CREDENTIAL_LABELS.get(key, key))

    def clean_base_url(self) -> str:
        return services.validate_base_url(self.cleaned_data["base_url"])  # the SSRF guard

    def clean(self):
        data = super().clean()
        provider = data.get("provider")
        if not provider:
            return data
        given = {k: data.get(k) or "" for k in credential_keys(provider)}
        try:
            data["credentials"] = adapter_class(provider).validate_credentials(given)
        except (ValueError, NotSupported) as exc:
            raise forms.ValidationError(str(exc)) from exc
        missing = adapter_class(provider).missing_base_url(data.get("base_url") or "")
        if missing:
            self.add_error("base_url", missing)
        return data


def forget_secrets(form: forms.Form) -> None:
    """Secrets are never echoed back into the page, even on a failed submit."""
    if form.is_bound:
        data = cast(QueryDict, form.data).copy()  # copies of a QueryDict are mutable
        for key in CREDENTIAL_FIELDS:
            data.pop(key, None)
        form.data = data


def credential_label(provider: str, key: str) -> str:
    return adapter_class(provider).credential_label(key)


def credential_hint(provider: str) -> str:
    """Which credentials the provider takes, in words: "Enter either API key, or Login and
    Password / API password." (a provider may accept several shapes)."""
    cls = adapter_class(provider)
    shapes = [
        " and ".join(credential_label(provider, key) for key in shape) for shape in cls.credential_shapes
    ]
    if len(shapes) == 1:
        return f"Enter {shapes[0]}."
    return "Enter either " + ", or ".join(shapes) + " (one set is enough)."


# -- webhook secret: set or rotate, shown once ---------------------------------------------------
class WebhookSecretForm(forms.Form):
    secret = forms.CharField(
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        label="Secret",
        help_text="The secret the provider signs with (copy it where the provider shows one per "
        "account, otherwise choose one). Leave empty to generate one.",
    )
    keep_previous = forms.BooleanField(
        required=False,
        initial=True,
        label="Keep accepting the old secret for a while",
        help_text="While you change it at the provider.",
    )


# -- managing an account: edit, enable/disable, delete, subaccounts --------------------------------
class EditForm(forms.Form):
    name = forms.CharField(max_length=120)
    base_url = forms.CharField(
        required=False, max_length=200, label="Base URL", help_text="Leave empty for the provider's real API."
    )
    sync_enabled = forms.BooleanField(required=False, label="Sync history automatically")
    sync_interval = forms.IntegerField(
        min_value=services.SYNC_INTERVAL_RANGE[0],
        max_value=services.SYNC_INTERVAL_RANGE[1],
        label="Sync every (minutes)",
    )
    send_rate = forms.FloatField(
        min_value=services.SEND_RATE_RANGE[0],
        max_value=services.SEND_RATE_RANGE[1],
        label="Send rate (messages per second)",
    )

    def __init__(self, *args, account: ProviderAccount, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        # Only this provider's credential keys; empty keeps the stored credentials.
        for key in credential_keys(account.provider):
            self.fields[key] = credential_field(key, credential_label(account.provider, key))

    def credential_fields(self) -> list:
        return [self[key] for key in credential_keys(self.account.provider)]

    def settings_fields(self) -> list:
        return [self[key] for key in ("name", "base_url", "sync_enabled", "sync_interval", "send_rate")]

    def clean(self):
        data = super().clean()
        given = {k: data.get(k) or "" for k in credential_keys(self.account.provider)}
        data["credentials"] = None
        if any(given.values()):  # replacing: the new set must be complete for the provider
            try:
                data["credentials"] = self.account.adapter_class.validate_credentials(
                    {k: v for k, v in given.items() if v}
                )
            except (ValueError, NotSupported) as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


class SubaccountForm(forms.Form):
    name = forms.CharField(max_length=120)
    usage_limit = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=18,
        decimal_places=4,
        label="Usage limit",
        help_text="Spend the provider allows this subaccount; empty for none.",
    )

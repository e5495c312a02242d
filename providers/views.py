"""Dashboard pages of provider accounts: list, connect, credential check, sync now with a
live progress page, webhook URLs, subaccounts, the provider HTTP log and received webhooks."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.models import Scope
from accounts.permissions import scope_required
from accounts.tenancy import tenant_object_or_404, tenant_qs
from core.forms import add_service_errors
from core.web import is_htmx, keyset_page, query_without

from . import services
from .adapters import RESOURCES, NotSupported, ProviderError, registry
from .adapters.base import CREDENTIAL_LABELS
from .adapters.records import Capability
from .adapters.registry import adapter_class
from .connect import open_adapter
from .models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent
from .scheduling import start_sync
from .tasks import apply_webhook_event

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


def _accounts_context(request) -> dict:
    return {
        "credential_fields": list(CREDENTIAL_FIELDS),
        "providers": [
            {"code": code, "name": label, "keys": credential_keys(code), "hint": credential_hint(code)}
            for code, label in registry.choices()
        ],
        # field -> {provider: label}: the form relabels the fields for the chosen provider.
        "credential_labels": {
            key: {code: credential_label(code, key) for code in registry.codes()}
            for key in CREDENTIAL_FIELDS
        },
    }


def account_list(request):
    accounts = (
        tenant_qs(request, ProviderAccount)
        .filter(parent__isnull=True)
        .prefetch_related("subaccounts")
        .order_by("name")
    )
    last_runs = {
        r.account_id: r
        for r in tenant_qs(request, SyncRun).order_by("account_id", "-created_at").distinct("account_id")
    }
    rows = [{"account": a, "last_run": last_runs.get(a.pk)} for a in accounts]
    return render(request, "providers/account_list.html", {"rows": rows})


@scope_required(Scope.MANAGE)
def account_connect(request):
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account = services.connect_account(
                request.tenant,
                data["provider"],
                data["name"],
                data["credentials"],
                base_url=data["base_url"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Connected {account.name}. Test the credentials or run a first sync.")
            return redirect("provider-account", tenant_slug=request.tenant.slug, pk=account.pk)
    forget_secrets(form)
    status = 400 if form.errors else 200
    return render(
        request, "providers/account_connect.html", {"form": form, **_accounts_context(request)}, status=status
    )


def account_detail(request, pk: int):
    account = tenant_object_or_404(request, ProviderAccount.objects.select_related("parent"), pk=pk)
    return render(
        request,
        "providers/account_detail.html",
        {
            "account": account,
            "capabilities": sorted(str(c) for c in account.capabilities),
            "webhook_urls": account.webhook_urls,
            "subaccounts": account.subaccounts.filter(tenant_id=request.tenant.pk).order_by("name"),
            "runs": tenant_qs(request, SyncRun).filter(account=account)[:10],
            "has_balance": account.can(Capability.BALANCE),
            "can_create_subaccount": not account.parent_id and account.can(Capability.CREATE_SUBACCOUNT),
            "can_update_subaccount": account.can(Capability.UPDATE_SUBACCOUNT),
        },
    )


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


@never_cache  # the answer carries the secret
@require_POST
@scope_required(Scope.MANAGE)
def account_webhook_secret(request, pk: int):
    """Set or rotate the webhook secret; the page after shows it once."""
    account = _manageable_account(request, pk)
    form = WebhookSecretForm(request.POST)
    secret = None
    if form.is_valid():
        try:
            secret = services.set_webhook_secret(
                account,
                form.cleaned_data["secret"] or None,
                keep_previous=form.cleaned_data["keep_previous"],
                actor=request.user,
            )
        except ValidationError as exc:
            for problem in exc.message_dict.get("secret", exc.messages):
                form.add_error("secret", problem)
    return render(
        request,
        "providers/webhook_secret.html",
        {"account": account, "form": form, "secret": secret},
        status=200 if secret else 400,
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


def _manageable_account(request, pk: int) -> ProviderAccount:
    return tenant_object_or_404(request, ProviderAccount.objects.select_related("parent"), pk=pk)


def _to_account(request, account: ProviderAccount):
    return redirect("provider-account", tenant_slug=request.tenant.slug, pk=account.pk)


@scope_required(Scope.MANAGE)
def account_edit(request, pk: int):
    account = _manageable_account(request, pk)
    fields = ("name", "base_url", "sync_enabled", "sync_interval", "send_rate")
    form = EditForm(request.POST or None, account=account, initial={f: getattr(account, f) for f in fields})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {f: data[f] for f in fields}
        if changes["base_url"] == account.base_url.rstrip("/"):
            changes["base_url"] = account.base_url  # unchanged, however it was stored
        try:
            services.update_account(account, credentials=data["credentials"], actor=request.user, **changes)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Saved {account.name}.")
            return _to_account(request, account)
    forget_secrets(form)
    return render(
        request,
        "providers/account_edit.html",
        {"form": form, "account": account},
        status=400 if form.errors else 200,
    )


@require_POST
@scope_required(Scope.MANAGE)
def account_enable(request, pk: int):
    account = services.set_account_enabled(_manageable_account(request, pk), True, actor=request.user)
    messages.success(request, f"Enabled {account.name}: it syncs and sends again.")
    return _to_account(request, account)


@require_POST
@scope_required(Scope.MANAGE)
def account_disable(request, pk: int):
    account = services.set_account_enabled(_manageable_account(request, pk), False, actor=request.user)
    messages.success(request, f"Disabled {account.name}: no syncs or sends until it is enabled.")
    return _to_account(request, account)


@scope_required(Scope.MANAGE)
def account_delete(request, pk: int):
    """GET: what will go with it; POST: mark it deleting and queue the deletion."""
    account = _manageable_account(request, pk)
    if request.method == "POST":
        parent = account.parent
        services.delete_account(account, actor=request.user)
        messages.success(
            request, f"Deleting {account.name} and everything synced through it in the background."
        )
        if parent is not None:
            return _to_account(request, parent)
        return redirect("provider-accounts", tenant_slug=request.tenant.slug)
    return render(
        request,
        "providers/account_delete.html",
        {"account": account, "summary": services.deletion_summary(account)},
    )


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


def _provider_call(form: forms.Form, call) -> ProviderAccount | None:
    """Run a provider write; its refusal lands on the form with the provider's own words."""
    try:
        return call()
    except ValidationError as exc:
        add_service_errors(form, exc)
    except ProviderError as exc:
        form.add_error(None, f"{exc.message}")
    return None


@scope_required(Scope.MANAGE)
def subaccount_create(request, pk: int):
    parent = _manageable_account(request, pk)
    if parent.parent_id or not parent.can(Capability.CREATE_SUBACCOUNT):
        raise Http404("This account cannot create subaccounts.")
    form = SubaccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        child = _provider_call(
            form,
            lambda: services.create_subaccount(parent, data["name"], data["usage_limit"], actor=request.user),
        )
        if child is not None:
            messages.success(request, f"Created subaccount {child.name}.")
            return _to_account(request, parent)
    return render(
        request,
        "providers/subaccount_form.html",
        {"form": form, "parent": parent, "child": None},
        status=400 if form.errors else 200,
    )


@scope_required(Scope.MANAGE)
def subaccount_edit(request, pk: int):
    child = _manageable_account(request, pk)
    if child.parent is None or not child.parent.can(Capability.UPDATE_SUBACCOUNT):
        raise Http404("This account has no subaccount settings to change.")
    form = SubaccountForm(
        request.POST or None, initial={"name": child.name, "usage_limit": child.usage_limit}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        updated = _provider_call(
            form,
            lambda: services.update_subaccount(
                child, name=data["name"], usage_limit=data["usage_limit"], actor=request.user
            ),
        )
        if updated is not None:
            messages.success(request, f"Saved subaccount {updated.name}.")
            return _to_account(request, child.parent)
    return render(
        request,
        "providers/subaccount_form.html",
        {"form": form, "parent": child.parent, "child": child},
        status=400 if form.errors else 200,
    )


@require_POST
@scope_required(Scope.MANAGE)
def account_test(request, pk: int):
    """Check the stored credentials against the provider (an htmx fragment)."""
    account = tenant_object_or_404(request, ProviderAccount, pk=pk)
    result: dict = {"ok": False}
    try:
        with open_adapter(account) as adapter:
            info = adapter.check_credentials()
        result = {"ok": True, "info": info}
    except ProviderError as exc:
        result["error"] = exc.message
    template = "providers/_credential_check.html"
    if not is_htmx(request):
        if result["ok"]:
            messages.success(request, "Credentials work.")
        else:
            messages.error(request, f"Credential check failed: {result['error']}")
        return redirect("provider-account", tenant_slug=request.tenant.slug, pk=account.pk)
    return render(request, template, {"result": result, "account": account})


@require_POST
@scope_required(Scope.MANAGE)
def account_sync(request, pk: int):
    account = tenant_object_or_404(request, ProviderAccount, pk=pk)
    refusal = {
        ProviderAccount.Status.DISABLED: "This account is disabled; enable it before syncing.",
        ProviderAccount.Status.DELETING: "This account is being deleted.",
    }.get(account.status)
    if refusal:
        messages.error(request, refusal)
        return redirect("provider-account", tenant_slug=request.tenant.slug, pk=account.pk)
    # A run already under way (scheduled or started by someone else): follow that one
    # instead of queueing a second that would only be skipped.
    current = (
        tenant_qs(request, SyncRun)
        .filter(account=account, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
        .order_by("-created_at")
        .first()
    )
    if current is not None:
        messages.info(request, "A sync of this account is already running; here is its progress.")
        return redirect("sync-run", tenant_slug=request.tenant.slug, pk=current.pk)
    with transaction.atomic():
        run = start_sync(account, SyncRun.Trigger.DASHBOARD)
        audit.record(request.tenant, request.user, "sync.start", run, account=account.pk)
    return redirect("sync-run", tenant_slug=request.tenant.slug, pk=run.pk)


def _run_rows(run: SyncRun) -> list[dict]:
    return [{"name": name, **run.resources.get(name, {"status": "waiting"})} for name in RESOURCES]


def sync_run(request, pk: int):
    run = tenant_object_or_404(request, SyncRun.objects.select_related("account"), pk=pk)
    context = {
        "run": run,
        "rows": _run_rows(run),
        "finished": run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED),
    }
    if is_htmx(request):
        return render(request, "providers/_sync_run.html", context)
    return render(request, "providers/sync_run.html", context)


def sync_runs(request):
    runs = tenant_qs(request, SyncRun).select_related("account")
    if (account := request.GET.get("account", "")).isdigit():
        runs = runs.filter(account_id=account)
    page = keyset_page(runs, request.GET.get("before"))
    unfinished = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
    context = {
        "page": page,
        "query": query_without(request, "before"),
        # The first page follows runs under way; it stops polling once none is.
        "live": not request.GET.get("before") and any(r.status in unfinished for r in page.items),
    }
    if is_htmx(request):
        return render(request, "providers/_sync_runs_rows.html", context)
    return render(request, "providers/sync_runs.html", context)


# -- debugging: HTTP log and received webhooks ----------------------------------------------------
def _account_choices(request):
    return tenant_qs(request, ProviderAccount).order_by("name").only("pk", "name", "provider")


def log_list(request):
    logs = tenant_qs(request, ProviderLog).select_related("account").defer("request_body", "response_body")
    if (account := request.GET.get("account", "")).isdigit():
        logs = logs.filter(account_id=account)
    outcome = request.GET.get("outcome", "")
    if outcome == "ok":
        logs = logs.filter(status__gte=200, status__lt=400)
    elif outcome == "client":
        logs = logs.filter(status__gte=400, status__lt=500)
    elif outcome == "server":
        logs = logs.filter(status__gte=500)
    elif outcome == "error":
        logs = logs.filter(status__isnull=True)
    page = keyset_page(logs, request.GET.get("before"))
    return render(
        request,
        "providers/log_list.html",
        {
            "page": page,
            "accounts": _account_choices(request),
            "account": account,
            "outcome": outcome,
            "query": query_without(request, "before"),
        },
    )


def log_detail(request, pk: int):
    log = tenant_object_or_404(request, ProviderLog.objects.select_related("account"), pk=pk)
    return render(request, "providers/log_detail.html", {"log": log})


def webhook_list(request):
    events = tenant_qs(request, WebhookEvent).select_related("account").defer("body", "headers")
    if (account := request.GET.get("account", "")).isdigit():
        events = events.filter(account_id=account)
    if (status := request.GET.get("status", "")) in WebhookEvent.Status.values:
        events = events.filter(status=status)
    page = keyset_page(events, request.GET.get("before"), field="received_at")
    return render(
        request,
        "providers/webhook_list.html",
        {
            "page": page,
            "accounts": _account_choices(request),
            "account": account,
            "status": status,
            "statuses": WebhookEvent.Status.choices,
            "query": query_without(request, "before"),
        },
    )


def webhook_detail(request, pk: int):
    event = tenant_object_or_404(request, WebhookEvent.objects.select_related("account"), pk=pk)
    unsettled = event.status in (WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED)
    context = {
        "event": event,
        "can_replay": unsettled and request.tenant_access.can(Scope.MANAGE),
        # Follow it while it waits for a worker (or a replay just asked for one).
        "live": event.status == WebhookEvent.Status.PENDING or (unsettled and "replayed" in request.GET),
    }
    if is_htmx(request):
        return render(request, "providers/_webhook_status.html", context)
    return render(request, "providers/webhook_detail.html", context)


@require_POST
@scope_required(Scope.MANAGE)
def webhook_replay(request, pk: int):
    """Apply a failed (or stuck) received event again, through the same task as on arrival."""
    event = tenant_object_or_404(request, WebhookEvent, pk=pk)
    if event.status not in (WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED):
        messages.info(request, "This event was already applied; replaying it would change nothing.")
        return redirect("webhook-event", tenant_slug=request.tenant.slug, pk=event.pk)
    audit.record(request.tenant, request.user, "webhook_event.replay", event, status=event.status)
    transaction.on_commit(lambda: apply_webhook_event.delay(event.pk))
    messages.success(request, "Replay queued: the event is applied again by a worker.")
    url = reverse("webhook-event", args=[request.tenant.slug, event.pk])
    return redirect(f"{url}?replayed=1")

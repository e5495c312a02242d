from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from .tenancy import tenants_for

# Pages without an object in their URL: switching tenant on one of them lands on the same
# page of the other tenant; from an object's page it lands on its section's list.
SECTION_PAGES = {
    "tenant-home", "messages", "conversations", "compose", "bulk-send", "calls", "recordings",
    "place-call", "numbers", "number-allocate", "provider-accounts", "provider-connect", "sync-runs",
    "provider-logs", "webhook-events", "usage", "statement", "billing-settings", "notifications",
    "api-keys", "members", "audit-log", "search",
}  # fmt: skip
SECTION_OF = {
    "message": "messages", "thread": "conversations", "bulk-progress": "bulk-send", "call": "calls",
    "number": "numbers", "provider-account": "provider-accounts", "provider-edit": "provider-accounts",
    "provider-delete": "provider-accounts", "subaccount-create": "provider-accounts",
    "subaccount-edit": "provider-accounts", "sync-run": "sync-runs", "provider-log": "provider-logs",
    "webhook-event": "webhook-events", "contact": "search",
}  # fmt: skip


def _section(request) -> str:
    try:
        name = resolve(request.path_info).url_name or ""
    except Resolver404:
        return "tenant-home"
    name = SECTION_OF.get(name, name)
    return name if name in SECTION_PAGES else "tenant-home"


def _switch_url(section: str, slug: str) -> str:
    for name in (section, "tenant-home"):
        try:
            return reverse(name, args=[slug])
        except NoReverseMatch:
            continue
    return f"/t/{slug}/"  # a URLconf without the dashboard (e.g. admin-only tests)


def tenancy(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    tenants = tenants_for(user)
    tenant = getattr(request, "tenant", None)
    section = _section(request) if tenant is not None else "tenant-home"
    return {
        "tenant": tenant,
        "tenant_access": getattr(request, "tenant_access", None),
        "switchable_tenants": tenants,
        # (tenant, url of the page being looked at, in that tenant); a callable, so only
        # pages that show the switcher compute it.
        "tenant_switch": lambda: [(t, _switch_url(section, t.slug)) for t in tenants],
    }

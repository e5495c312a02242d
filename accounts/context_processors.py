from .tenancy import tenants_for


def tenancy(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "tenant": getattr(request, "tenant", None),
        "tenant_access": getattr(request, "tenant_access", None),
        "switchable_tenants": tenants_for(user),
    }

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .tenancy import tenants_for


@login_required
def home(request):
    """The tenant switcher: straight into the only tenant, a chooser for several."""
    tenants = tenants_for(request.user)
    if len(tenants) == 1:
        return redirect("tenant-home", tenant_slug=tenants[0].slug)
    return render(request, "accounts/choose_tenant.html", {"tenants": tenants})


def tenant_home(request):
    return render(request, "accounts/tenant_home.html", {})

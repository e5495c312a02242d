import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Membership, Tenant, User, hash_api_key

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_tenant_creates_tenant_owner_and_membership():
    run("create_tenant", "acme", "--name", "Acme", "--owner", "boss@acme.test", "--password", "s3cret-pass")
    tenant = Tenant.objects.get(slug="acme")
    user = User.objects.get(email="boss@acme.test")
    assert user.check_password("s3cret-pass")
    assert Membership.objects.get(tenant=tenant, user=user).role == "owner"


def test_create_tenant_prints_the_api_key_alone_on_the_last_line():
    out = run("create_tenant", "acme", "--name", "Acme", "--owner", "boss@acme.test", "--api-key")
    last = out.strip().splitlines()[-1]
    key = ApiKey.objects.get(key_hash=hash_api_key(last))
    assert sorted(key.scopes) == ["manage", "read", "send"]
    assert key.tenant.slug == "acme"


def test_create_tenant_reuses_an_existing_user(member_a):
    run("create_tenant", "second", "--name", "Second", "--owner", member_a.email)
    assert User.objects.filter(email=member_a.email).count() == 1
    assert member_a.memberships.count() == 2


def test_create_tenant_refuses_a_bad_slug():
    with pytest.raises(CommandError):
        run("create_tenant", "not a slug", "--name", "X", "--owner", "a@b.test")


def test_load_demo_is_idempotent():
    run("load_demo")
    run("load_demo")
    assert User.objects.filter(email="demo@switchboard.local").count() == 1
    assert Tenant.objects.filter(slug__in=["acme", "globex"]).count() == 2

"""Members: owners and admins add people by email (new ones set a password through an
emailed link), change roles and remove members; a tenant always keeps an owner and admins
never touch owners. Also "Forgot password?" on the login page."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services
from accounts.models import AuditLog, Membership, Role, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_a(tenant_a) -> User:
    user = User.objects.create_user("admin@a.test", "pw")
    Membership.objects.create(tenant=tenant_a, user=user, role=Role.ADMIN)
    return user


def membership(tenant, user) -> Membership:
    return Membership.objects.get(tenant=tenant, user=user)


def url(name: str, tenant, *args) -> str:
    return reverse(name, args=[tenant.slug, *args])


def emailed_link(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def add(client, tenant, email: str, role: str = Role.MEMBER):
    return client.post(url("member-add", tenant), {"email": email, "role": role})


# -- adding ------------------------------------------------------------------------------------
def test_new_person_gets_an_unusable_password_and_a_set_password_link(
    login, owner_a, tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = add(login(owner_a), tenant_a, "New.Person@Example.com", Role.VIEWER)
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert not user.has_usable_password()
    assert membership(tenant_a, user).role == Role.VIEWER
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@example.com"]
    assert "/password/reset/" in emailed_link(mail.outbox[0])


def test_the_invitation_link_sets_a_password_once(
    client, login, owner_a, tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add(login(owner_a), tenant_a, "invitee@example.com")
    client.logout()
    link = emailed_link(mail.outbox[0]).split("testserver", 1)[1]
    form_url = client.get(link)["Location"]  # Django swaps the token for a session marker
    new = {"new_password1": "a long passphrase 42", "new_password2": "a long passphrase 42"}
    assert client.post(form_url, new)["Location"] == reverse("password_reset_complete")
    signed_in = client.post(
        reverse("login"), {"username": "invitee@example.com", "password": new["new_password1"]}
    )
    assert signed_in.status_code == 302
    client.logout()
    assert client.get(link, follow=True).context["validlink"] is False


def test_existing_user_is_added_without_touching_their_password(
    login, owner_a, tenant_a, user_b, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add(login(owner_a), tenant_a, "owner@b.test", Role.ADMIN)
    user_b.refresh_from_db()
    assert user_b.check_password("pw")
    assert membership(tenant_a, user_b).role == Role.ADMIN
    assert "/password/reset/" not in mail.outbox[0].body


def test_adding_someone_already_a_member_is_refused(login, owner_a, member_a, tenant_a):
    response = add(login(owner_a), tenant_a, "member@a.test", Role.ADMIN)
    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert membership(tenant_a, member_a).role == Role.MEMBER


def test_admin_cannot_add_an_owner(login, admin_a, tenant_a):
    response = add(login(admin_a), tenant_a, "boss@example.com", Role.OWNER)
    assert response.status_code == 400
    assert not User.objects.filter(email="boss@example.com").exists()


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_cannot_manage_members(role, login, member_a, viewer_a, tenant_a):
    user = {"member": member_a, "viewer": viewer_a}[role]
    client = login(user)
    assert add(client, tenant_a, "x@example.com").status_code == 403
    assert client.post(url("member-remove", tenant_a, membership(tenant_a, user).pk)).status_code == 403


# -- roles and removal -------------------------------------------------------------------------
def test_owner_changes_a_members_role(login, owner_a, member_a, tenant_a):
    m = membership(tenant_a, member_a)
    login(owner_a).post(url("member-role", tenant_a, m.pk), {"role": Role.ADMIN})
    assert membership(tenant_a, member_a).role == Role.ADMIN
    entry = AuditLog.objects.for_tenant(tenant_a).get(action="member.role")
    assert (entry.data["old"], entry.data["new"]) == ("member", "admin")


def test_last_owner_cannot_be_demoted(login, owner_a, tenant_a):
    m = membership(tenant_a, owner_a)
    response = login(owner_a).post(url("member-role", tenant_a, m.pk), {"role": Role.ADMIN})
    assert response.status_code == 400
    assert "at least one owner" in response.content.decode()
    assert membership(tenant_a, owner_a).role == Role.OWNER


def test_last_owner_cannot_be_removed(owner_a, tenant_a):
    with pytest.raises(ValidationError, match="at least one owner"):
        services.remove_member(membership(tenant_a, owner_a), actor=owner_a, actor_role=Role.OWNER)
    assert Membership.objects.filter(tenant=tenant_a, user=owner_a).exists()


def test_an_owner_may_step_down_once_there_is_another(login, owner_a, admin_a, tenant_a):
    client = login(owner_a)
    client.post(url("member-role", tenant_a, membership(tenant_a, admin_a).pk), {"role": Role.OWNER})
    client.post(url("member-role", tenant_a, membership(tenant_a, owner_a).pk), {"role": Role.MEMBER})
    assert membership(tenant_a, owner_a).role == Role.MEMBER
    assert membership(tenant_a, admin_a).role == Role.OWNER


@pytest.mark.parametrize("action", ["demote", "remove"])
def test_admins_cannot_touch_owners(action, login, owner_a, admin_a, tenant_a):
    m = membership(tenant_a, owner_a)
    client = login(admin_a)
    if action == "demote":
        response = client.post(url("member-role", tenant_a, m.pk), {"role": Role.VIEWER})
    else:
        response = client.post(url("member-remove", tenant_a, m.pk))
    assert response.status_code == 400
    assert membership(tenant_a, owner_a).role == Role.OWNER


def test_admin_removes_a_member_and_the_user_remains(login, admin_a, member_a, tenant_a):
    response = login(admin_a).post(url("member-remove", tenant_a, membership(tenant_a, member_a).pk))
    assert response.status_code == 302
    assert not Membership.objects.filter(tenant=tenant_a, user=member_a).exists()
    assert User.objects.filter(pk=member_a.pk).exists()


@pytest.mark.parametrize("name", ["member-role", "member-remove"])
def test_member_of_another_tenant_cannot_be_edited_through_our_urls(
    name, login, owner_a, tenant_a, user_b, tenant_b
):
    foreign = membership(tenant_b, user_b)
    response = login(owner_a).post(url(name, tenant_a, foreign.pk), {"role": Role.VIEWER})
    assert response.status_code == 404
    assert membership(tenant_b, user_b).role == Role.OWNER


def test_members_page_offers_admins_no_owner_controls(login, owner_a, admin_a, tenant_a):
    html = login(admin_a).get(url("members", tenant_a)).content.decode()
    assert url("member-remove", tenant_a, membership(tenant_a, owner_a).pk) not in html
    assert url("member-remove", tenant_a, membership(tenant_a, admin_a).pk) in html
    assert '<option value="owner"' not in html


# -- forgot password ---------------------------------------------------------------------------
def test_login_page_links_to_forgot_password(client):
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()


def test_forgot_password_emails_a_working_link(client, member_a):
    response = client.post(reverse("password_reset"), {"email": "MEMBER@a.test"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox[0].to == ["member@a.test"]
    form_url = client.get(emailed_link(mail.outbox[0]).split("testserver", 1)[1])["Location"]
    client.post(form_url, {"new_password1": "fresh horse 9x", "new_password2": "fresh horse 9x"})
    member_a.refresh_from_db()
    assert member_a.check_password("fresh horse 9x")


def test_forgot_password_reaches_someone_invited_who_lost_the_email(client, owner_a, tenant_a):
    services.add_member(
        tenant_a, "late@example.com", Role.MEMBER, actor=owner_a, actor_role=Role.OWNER, site_url="http://x"
    )
    client.post(reverse("password_reset"), {"email": "late@example.com"})
    assert [m.to for m in mail.outbox] == [["late@example.com"]]


def test_forgot_password_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []

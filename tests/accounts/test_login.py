import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_user_logs_in_with_email(client, member_a, tenant_a):
    response = client.post(reverse("login"), {"username": "MEMBER@a.test", "password": "pw"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("tenant-home", args=[tenant_a.slug])


def test_wrong_password_shows_an_error(client, member_a):
    response = client.post(reverse("login"), {"username": "member@a.test", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_logout_ends_the_session(login, member_a, tenant_a):
    client = login(member_a)
    client.post(reverse("logout"))
    assert client.get(reverse("tenant-home", args=[tenant_a.slug])).status_code == 302

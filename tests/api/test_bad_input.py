"""Bad input outside the sending paths: each is a 400 in the API's error shape."""

from __future__ import annotations

import pytest
from django.urls import reverse

from .factories import phone_number

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "2026-13", "2026-1", "１２３４-01"])
def test_a_statement_month_out_of_range_is_400(api_a, month):
    response = api_a.get("/api/v1/statements/", {"month": month})
    assert response.status_code == 400
    assert "month" in response.json()["error"]["fields"]


def test_a_nul_in_the_query_string_is_400_in_the_api_shape(api_a):
    response = api_a.get("/api/v1/messages/?q=%00")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_a_number_note_is_capped(api_a, tenant_a):
    number = phone_number(tenant_a)
    response = api_a.patch(f"/api/v1/numbers/{number.pk}/", {"purpose": "x" * 1_000_000}, format="json")
    assert response.status_code == 400
    assert "purpose" in response.json()["error"]["fields"]


@pytest.mark.parametrize("name", ["messages", "calls", "numbers", "notifications"])
def test_a_nul_in_a_dashboard_query_string_is_400(login, member_a, tenant_a, name):
    response = login(member_a).get(reverse(name, args=[tenant_a.slug]) + "?q=%00")
    assert response.status_code == 400


def test_a_statement_page_for_year_zero_shows_this_month(login, member_a, tenant_a):
    response = login(member_a).get(reverse("statement", args=[tenant_a.slug]), {"month": "0000-01"})
    assert response.status_code == 200

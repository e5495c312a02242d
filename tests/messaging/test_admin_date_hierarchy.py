import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["admin:messaging_message_changelist", "admin:calls_call_changelist"])
def test_date_hierarchy_asks_for_no_distinct_dates(login, staff, url):
    client = login(staff)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(url))
    assert response.status_code == 200
    assert b"toplinks" in response.content  # the hierarchy is still shown
    assert not [q for q in queries.captured_queries if "DATE_TRUNC" in q["sql"].upper()]

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.models import Call, Recording
from core.admin_paging import EstimatedCountPaginator
from messaging.models import Message
from providers.models import ProviderLog, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Message, Call, Recording, ProviderLog, WebhookEvent])
def test_big_tables_page_without_counting_every_row(model):
    assert admin.site._registry[model].paginator is EstimatedCountPaginator


def test_an_unfiltered_big_table_uses_the_row_estimate(monkeypatch, owner_sql):
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", -1)  # any estimate counts as big
    owner_sql(f"ANALYZE {Message._meta.db_table}")  # only the owner may
    paginator = EstimatedCountPaginator(Message.objects.all(), 50)
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count >= 0
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_a_filtered_list_counts_exactly(tenant_a):
    paginator = EstimatedCountPaginator(Message.objects.for_tenant(tenant_a), 50)
    assert paginator.count == 0

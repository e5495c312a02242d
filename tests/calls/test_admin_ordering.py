"""The operators' unfiltered changelists (Message, Call) read their first page from the
cross-tenant (created_at DESC, id DESC) index instead of sorting every tenant's rows.
(Message is here with Call: both indexes came in together.)"""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from calls.models import Call
from messaging.models import Message


@pytest.mark.parametrize(("model", "index"), [(Message, "message_created_id"), (Call, "call_created_id")])
def test_the_unfiltered_changelist_walks_the_index_without_a_sort(login, staff, model, index):
    response = login(staff).get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    page = response.context["cl"].result_list  # the changelist's own first-page queryset
    sql, params = page.query.sql_with_params()

    with connection.cursor() as cursor:
        # A near-empty test table is cheapest to scan and sort; price those choices out, as a
        # million rows would. A Sort then remains only if no index yields the order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert page.query.order_by == ("-created_at", "-id")  # Meta.ordering; the admin sets none
    assert f"Index Scan using {index}" in plan, plan
    assert "Sort" not in plan, plan

import pytest
from django.db import connection

from messaging.models import Message

pytestmark = pytest.mark.django_db


def test_text_search_can_use_the_trigram_index():
    # The API's and dashboard's `q` compiles to body__icontains; the GIN index must match that
    # expression (with the tenant filter too the planner picks per data; here we ask if it can).
    # Asked as the app role, under row-level security: UPPER and LIKE are marked leakproof by
    # the migrations (accounts/rls_setup.py), or the index could not be used below the policy.
    query = Message.objects.filter(body__icontains="invoice 4711").values("id")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_body_trgm" in plan

import pytest

from messaging.models import Message

pytestmark = pytest.mark.django_db


def test_text_search_matches_the_trigram_index_expression(owner_sql):
    # The API's and dashboard's `q` compiles to body__icontains; the GIN index must match that
    # expression (with the tenant filter too the planner picks per data; here we ask if it can).
    # Asked as the owner: under row-level security (the app role) LIKE is not leakproof, so it
    # cannot be an index condition below the tenant policy (docs/security.md, "Known costs").
    query = Message.objects.filter(body__icontains="invoice 4711").values("id")
    sql, params = query.query.sql_with_params()
    no_scans = ("SET enable_seqscan = off", "SET enable_indexscan = off")
    rows = owner_sql(f"EXPLAIN {sql}", params, setup=no_scans)
    plan = "\n".join(row[0] for row in rows)
    assert "message_body_trgm" in plan

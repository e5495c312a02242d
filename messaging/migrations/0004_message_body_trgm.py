from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
from django.db import migrations
from django.db.models.functions import Upper


class Migration(migrations.Migration):
    # Built without locking writes: the table is large in production.
    atomic = False

    dependencies = [
        ("messaging", "0003_message_created_id"),
    ]

    operations = [
        TrigramExtension(),
        # cross-tenant: text search on message bodies (icontains compiles to UPPER(body) LIKE …)
        AddIndexConcurrently(
            model_name="message",
            index=GinIndex(OpClass(Upper("body"), name="gin_trgm_ops"), name="message_body_trgm"),
        ),
    ]

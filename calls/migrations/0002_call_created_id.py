from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking writes: the table is large in production.
    atomic = False

    dependencies = [
        ("calls", "0001_initial"),
    ]

    operations = [
        # cross-tenant: the operators' admin changelist, newest first
        AddIndexConcurrently(
            model_name="call",
            index=models.Index(fields=["-created_at", "-id"], name="call_created_id"),
        ),
    ]

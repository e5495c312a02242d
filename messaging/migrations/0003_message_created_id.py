from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking writes: the table is large in production.
    atomic = False

    dependencies = [
        ("messaging", "0002_sending"),
    ]

    operations = [
        # cross-tenant: the operators' admin changelist, newest first
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(fields=["-created_at", "-id"], name="message_created_id"),
        ),
    ]

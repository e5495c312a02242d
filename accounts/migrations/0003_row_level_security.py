"""Row-level security: the application role and a tenant policy on every table with a
tenant_id column (accounts/rls_setup.py). A post_migrate receiver runs the same after every
`migrate`, so tables added by later migrations are covered too."""

from django.db import migrations

from accounts import rls_setup


def forwards(apps, schema_editor):
    rls_setup.apply(schema_editor.connection, apps)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in rls_setup.tenant_owned_tables(apps):
            rls_setup.disable_row_security(cursor, table)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_auditlog"),
        ("providers", "0002_provideraccount_status_deleting"),
        ("numbers", "0001_initial"),
        ("messaging", "0004_message_body_trgm"),
        ("calls", "0002_call_created_id"),
        ("billing", "0003_numberrental"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]

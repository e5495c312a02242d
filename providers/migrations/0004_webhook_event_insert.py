"""A delivery report stored by one statement that brings its own tenant.

The webhook view used to set the account's tenant on the connection before its INSERT and
clear it after the request: two `set_config` round trips around the one that matters, on
the path every delivery report takes. This function sets the tenant for its own duration
only (a function's SET clause makes Postgres restore the caller's value when it returns,
also on error) and inserts the event, so the request itself never leaves the "no tenant"
state. It grants nothing new: the row's tenant comes from the account the URL's secret
token names, as before, and row-level security still checks the INSERT against it. Not
SECURITY DEFINER: it runs as the caller, under the same policies and grants.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION providers_webhook_event_insert(
    p_tenant bigint, p_account bigint, p_provider text, p_kind text, p_event_key text, p_method text,
    p_headers jsonb, p_query jsonb, p_body text, p_remote_addr inet, p_status text, p_error text
) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET app.tenant_id = ''
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    INSERT INTO providers_webhookevent
        (tenant_id, account_id, provider, kind, event_key, method, headers, query, body, remote_addr,
         received_at, status, attempts, error)
    VALUES (p_tenant, p_account, p_provider, p_kind, p_event_key, p_method, p_headers, p_query, p_body,
            p_remote_addr, now(), p_status, 0, p_error)
    ON CONFLICT (account_id, kind, event_key) DO NOTHING
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$
"""
DROP = """
DROP FUNCTION IF EXISTS providers_webhook_event_insert(
    bigint, bigint, text, text, text, text, jsonb, jsonb, text, inet, text, text)
"""


class Migration(migrations.Migration):
    dependencies = [("providers", "0003_syncedpage")]

    operations = [migrations.RunSQL(CREATE, DROP, elidable=False)]

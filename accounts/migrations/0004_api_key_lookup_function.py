"""The API key lookup as one statement with no row-level-security bypass scope around it.

An API request does not know its tenant until its key is found, so the key has to be read
across tenants. Before, that was `rls_bypass()` around an ORM query: two extra `set_config`
round trips on every API request. This function reads exactly one key, by its hash, and
turns the bypass on for its own duration only (a function's SET clause: Postgres restores
the caller's value when it returns, also on error). It grants nothing new: the application
role could always set `app.rls_bypass` itself (docs/security.md), and the function cannot
be steered to any other row. Not SECURITY DEFINER: it runs as the caller, under the same
policies, with the same grants.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION accounts_api_key_by_hash(wanted_hash text)
RETURNS SETOF accounts_apikey
LANGUAGE sql STABLE STRICT
SET app.rls_bypass = 'on'
AS $$ SELECT * FROM accounts_apikey WHERE key_hash = wanted_hash $$
"""
DROP = "DROP FUNCTION IF EXISTS accounts_api_key_by_hash(text)"


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_row_level_security")]

    operations = [migrations.RunSQL(CREATE, DROP, elidable=False)]

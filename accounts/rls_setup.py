"""The database side of row-level security (see accounts/rls.py and docs/security.md).

Run as the schema owner, by the `0003_row_level_security` migration and again after every
`migrate` (a post_migrate receiver), so a tenant-owned table added later is covered the
moment its migration runs. Everything here is idempotent and touches a table only when
something is missing (ALTER TABLE takes an exclusive lock).

- the application role (`DATABASE_URL`'s user): LOGIN, no SUPERUSER, no BYPASSRLS, with
  DML rights on every table and sequence of the schema, now and in future (default
  privileges of the owner); no TRUNCATE (it ignores row security) and no DDL;
- every table with a `tenant_id` column (found from the models): ROW LEVEL SECURITY enabled
  and FORCEd (the owner is subject to it too), with the policy `tenant_isolation`;
- memberships additionally readable by their own user (`member_self_read`), so the tenant
  switcher and X-Tenant resolution need no bypass.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import InternalError, ProgrammingError, connections, transaction
from psycopg import errors, sql

from . import rls

logger = logging.getLogger("switchboard.rls")

TENANT_COLUMN = "tenant_id"
POLICY = "tenant_isolation"
MEMBER_POLICY = "member_self_read"
POLICY_EXPR = (
    f"{TENANT_COLUMN} = NULLIF(current_setting('{rls.TENANT_SETTING}', true), '')::bigint "
    f"OR current_setting('{rls.BYPASS_SETTING}', true) = 'on'"
)
MEMBER_EXPR = f"user_id = NULLIF(current_setting('{rls.USER_SETTING}', true), '')::bigint"
# Extra read policies by table: (name, expression).
EXTRA_READ_POLICIES = {"accounts_membership": (MEMBER_POLICY, MEMBER_EXPR)}


def app_role() -> tuple[str, str]:
    """The application role's name and password, from DATABASE_URL."""
    return settings.DATABASE_APP_USER, settings.DATABASE_APP_PASSWORD


def tenant_owned_tables(apps) -> list[str]:
    """Tables of every concrete model with a tenant_id column, sorted."""
    tables = set()
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        if any(field.column == TENANT_COLUMN for field in meta.local_concrete_fields):
            tables.add(meta.db_table)
    return sorted(tables)


def _q(cursor, query, params=None):
    cursor.execute(query.as_string(cursor.connection) if isinstance(query, sql.Composable) else query, params)


def _alter_role(cursor, statement: sql.Composable, using: str) -> None:
    """Roles are cluster-wide: two migrates at once (hosts deploying together, test workers)
    update the same pg_authid row, and the later one fails with "tuple concurrently
    updated". The statement sets the same values, so it is simply tried again."""
    for attempt in range(5):
        try:
            with transaction.atomic(using=using):
                _q(cursor, statement)
            return
        except InternalError:
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def ensure_app_role(cursor, using: str = "default") -> str | None:
    """Create or update the application role and its grants. Returns its name, or None when
    DATABASE_URL connects as the owner itself (then row security cannot be enforced)."""
    name, password = app_role()
    cursor.execute("SELECT current_user, current_database()")
    owner, database = cursor.fetchone()
    if not name or name == owner:
        logger.warning(
            "DATABASE_URL connects as the schema owner %r: row-level security is not enforced; "
            "set DATABASE_URL to an application role and DATABASE_OWNER_USER to the owner.",
            owner,
        )
        return None
    role = sql.Identifier(name)
    secret = sql.Literal(password) if password else sql.SQL("NULL")
    cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [name])
    row = cursor.fetchone()
    if row is None:
        try:
            with transaction.atomic(using=using):
                _q(
                    cursor,
                    sql.SQL(
                        "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION "
                        "PASSWORD {}"
                    ).format(role, secret),
                )
        except ProgrammingError as exc:  # created meanwhile by another migrate of this cluster
            if not isinstance(exc.__cause__, errors.DuplicateObject):
                raise
    else:
        if row[0] or row[1]:
            _q(cursor, sql.SQL("ALTER ROLE {} NOSUPERUSER NOBYPASSRLS").format(role))
        _alter_role(cursor, sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, secret), using)
    cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s", [name])
    if cursor.fetchone()[0]:
        raise ImproperlyConfigured(f"The application role {name!r} must not be SUPERUSER or BYPASSRLS.")
    for statement in (
        "GRANT CONNECT ON DATABASE {db} TO {role}",
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
    ):
        _q(cursor, sql.SQL(statement).format(db=sql.Identifier(database), role=role))
    return name


def _policies(cursor, table: str) -> set[str]:
    cursor.execute(
        "SELECT policyname FROM pg_policies WHERE schemaname = current_schema() AND tablename = %s", [table]
    )
    return {name for (name,) in cursor.fetchall()}


def enable_row_security(cursor, table: str) -> None:
    cursor.execute(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE oid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident(%s))",
        [table],
    )
    row = cursor.fetchone()
    if row is None:
        return  # not created yet (a partial migrate)
    ident = sql.Identifier(table)
    if not row[0]:
        _q(cursor, sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(ident))
    if not row[1]:
        _q(cursor, sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(ident))
    existing = _policies(cursor, table)
    if POLICY not in existing:
        _q(
            cursor,
            sql.SQL("CREATE POLICY {} ON {} USING ({expr}) WITH CHECK ({expr})").format(
                sql.Identifier(POLICY), ident, expr=sql.SQL(POLICY_EXPR)
            ),
        )
    extra = EXTRA_READ_POLICIES.get(table)
    if extra and extra[0] not in existing:
        _q(
            cursor,
            sql.SQL("CREATE POLICY {} ON {} FOR SELECT USING ({})").format(
                sql.Identifier(extra[0]), ident, sql.SQL(extra[1])
            ),
        )


def disable_row_security(cursor, table: str) -> None:
    ident = sql.Identifier(table)
    for name in (POLICY, *(p[0] for t, p in EXTRA_READ_POLICIES.items() if t == table)):
        _q(cursor, sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(name), ident))
    _q(cursor, sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(ident))
    _q(cursor, sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(ident))


# Text search (`q`: UPPER(body) LIKE '%…%', the trigram GIN index) under row security: the
# planner only uses a query's condition as an index condition below the tenant policy when
# its functions are LEAKPROOF, and these two are not marked so (measured on 300k messages of
# one tenant: 222 ms by scanning the tenant's rows, 0.2 ms through the index). Both raise
# errors only from their pattern or collation, never from a row's value, and return nothing
# but their result, which is what LEAKPROOF promises; only a superuser may mark them, in
# this database only (pg_dump does not keep it: every migrate applies it again).
LEAKPROOF_FUNCTIONS = ("pg_catalog.upper(text)", "pg_catalog.textlike(text, text)")


def mark_search_functions_leakproof(cursor) -> bool:
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cursor.fetchone()[0]:
        logger.warning(
            "migrating as a non-superuser: %s stay not leakproof, so message text search cannot "
            "use its trigram index under row-level security",
            ", ".join(LEAKPROOF_FUNCTIONS),
        )
        return False
    for signature in LEAKPROOF_FUNCTIONS:
        cursor.execute("SELECT proleakproof FROM pg_proc WHERE oid = %s::regprocedure", [signature])
        if not cursor.fetchone()[0]:
            cursor.execute(f"ALTER FUNCTION {signature} LEAKPROOF")
    return True


def apply(connection, apps) -> list[str]:
    """Role, grants and policies for every tenant-owned table of `apps`. Returns the tables."""
    if connection.vendor != "postgresql":
        return []
    tables = tenant_owned_tables(apps)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        ensure_app_role(cursor, connection.alias)
        mark_search_functions_leakproof(cursor)
        for table in tables:
            enable_row_security(cursor, table)
    return tables


def post_migrate(sender, app_config=None, using="default", apps=None, plan=None, **kwargs) -> None:
    """After every `migrate` (not after a flush): cover tables added since."""
    if plan is None or apps is None:
        return
    apply(connections[using], apps)


# -- the owner's connection ---------------------------------------------------------------------
@contextmanager
def as_owner(using: str = "default"):
    """Run the block on a connection as the schema owner (DATABASE_OWNER_USER), in a bypass:
    migrations and flushes. The same host and database as DATABASE_URL; without an owner
    configured, the block runs on the usual connection."""
    owner_user = getattr(settings, "DATABASE_OWNER_USER", "")
    conn = connections[using]
    current_user = conn.settings_dict.get("USER")
    if not owner_user or owner_user == current_user:
        with rls.rls_bypass(f"schema owner work on {using}"):
            yield conn
        return
    saved = (conn.settings_dict.get("USER"), conn.settings_dict.get("PASSWORD"))
    conn.close()
    conn.settings_dict["USER"] = owner_user
    conn.settings_dict["PASSWORD"] = getattr(settings, "DATABASE_OWNER_PASSWORD", "")
    try:
        with rls.rls_bypass(f"schema owner work on {using} as {owner_user}"):
            yield conn
    finally:
        conn.close()
        conn.settings_dict["USER"], conn.settings_dict["PASSWORD"] = saved

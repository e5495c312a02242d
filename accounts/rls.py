"""Postgres row-level security: the second wall behind `Model.objects.for_tenant()`.

Every tenant-owned table (every table with a `tenant_id` column) has a policy that lets
the application role see and write only the rows of the tenant named in the session
settings `app.tenant_id`, or every row while `app.rls_bypass` is `on` (see
`accounts/rls_setup.py` for the DDL and docs/security.md for the whole picture). This
module decides what those settings are, for whatever runs:

- a web request starts with nothing set (it sees no tenant rows); `RlsMiddleware` lets the
  signed-in user read their own memberships, `accounts.tenancy` and the API base set the
  tenant once it is resolved (`activate_request_tenant`), and the staff admin runs in a
  bypass; everything is put back when the request (and a streamed body) ends;
- a Celery task starts with nothing set (signals) and declares its tenancy:
  `@runs_in_tenant_of(message_id=Message)` (the tenant of that row) or
  `@cross_tenant_task("reason")` (a sweeper, the beat fan-out);
- anything else uses `tenant_context(tenant)` or `rls_bypass("reason")` around its work.
  `rls_bypass` is the only way to see across tenants: grep for it to review every use.

Session settings, not `SET LOCAL`: requests do not run in one transaction
(ATOMIC_REQUESTS is off, sends commit and enqueue on commit, webhooks answer after their
own commit) and connections persist (CONN_MAX_AGE). So the settings are set at session
level (`set_config(..., false)`) whenever the wanted state changes, on every new
connection (`connection_created`), and put back on exit of each scope, with every request
and task starting from "nothing set". A transaction that rolls back also rolls back a
setting changed inside it, which leaves the connection in the state of the enclosing scope:
scopes nest inside transactions or around them, never across. Do not put a
transaction-pooling proxy (pgbouncer `pool_mode=transaction`) between the app and Postgres:
session settings would follow the server connection to another client.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from django.db import connections
from django.db.backends.signals import connection_created
from django.http import HttpRequest
from psycopg import Cursor as ServerBindingCursor

logger = logging.getLogger("switchboard.rls")

TENANT_SETTING = "app.tenant_id"
BYPASS_SETTING = "app.rls_bypass"
USER_SETTING = "app.user_id"


@dataclass(frozen=True)
class RlsState:
    """What the current code may see: one tenant's rows, every row (bypass), or none;
    plus the signed-in user's own memberships."""

    tenant_id: int | None = None
    bypass: bool = False
    user_id: int | None = None

    def settings(self) -> tuple[str, str, str]:
        return (
            "" if self.tenant_id is None else str(int(self.tenant_id)),
            "on" if self.bypass else "",
            "" if self.user_id is None else str(int(self.user_id)),
        )


NOTHING = RlsState()
_state: ContextVar[RlsState] = ContextVar("rls_state", default=NOTHING)
_SET_SQL = (
    f"SELECT set_config('{TENANT_SETTING}', %s, false), set_config('{BYPASS_SETTING}', %s, false), "
    f"set_config('{USER_SETTING}', %s, false)"
)


def current() -> RlsState:
    return _state.get()


def _apply_to(conn) -> None:
    raw = conn.connection
    if raw is None or raw.closed:
        return  # applied by connection_created when it opens
    from psycopg.pq import TransactionStatus

    if raw.info.transaction_status == TransactionStatus.INERROR:
        # Only a rollback can follow, and it restores the setting this scope started with;
        # what the server holds is no longer known, so the next change is sent whatever it is.
        conn.rls_applied = None
        return
    wanted = _state.get().settings()
    if getattr(conn, "rls_applied", None) == wanted and getattr(conn, "rls_applied_to", None) is raw:
        return  # already what the server holds: a request's start and end often are
    # On the raw connection: no query log, no execute wrappers, no test-time DB blocker.
    with ServerBindingCursor(raw) as cursor:  # prepared: it runs twice in most requests
        cursor.execute(_SET_SQL, wanted, prepare=True)
    conn.rls_applied, conn.rls_applied_to = wanted, raw


def _apply() -> None:
    """Bring every open connection of this thread to the current state. A connection that
    cannot take it (the server went away) is closed: the next query opens a new one, which
    gets the state on connect. So an open connection never carries a stale state."""
    for conn in connections.all(initialized_only=True):
        if conn.vendor != "postgresql":
            continue
        try:
            _apply_to(conn)
        except Exception:
            logger.warning("could not set row-level security settings; closing the connection", exc_info=True)
            try:
                conn.close()
            except Exception:
                logger.debug("closing the connection failed too", exc_info=True)


def _on_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        _apply_to(connection)


connection_created.connect(_on_connection_created, dispatch_uid="accounts.rls.connection_created")


@contextmanager
def _scope(state: RlsState) -> Iterator[RlsState]:
    token = _state.set(state)
    try:
        _apply()
        yield state
    finally:
        try:
            _state.reset(token)
        except ValueError:  # closed from another context (a stream collected elsewhere)
            pass
        else:
            _apply()


def _tenant_id(tenant) -> int | None:
    if tenant is None:
        return None
    return int(tenant if isinstance(tenant, int) else tenant.pk)


def tenant_context(tenant) -> AbstractContextManager[RlsState]:
    """Run the block as one tenant (a Tenant or its id): it sees and writes only that
    tenant's rows. `None` runs it seeing no tenant rows at all."""
    return _scope(RlsState(tenant_id=_tenant_id(tenant), user_id=current().user_id))


def no_tenant() -> AbstractContextManager[RlsState]:
    """Run the block seeing no tenant rows (a request or task before its tenant is known)."""
    return _scope(NOTHING)


def rls_bypass(reason: str, *, level: int = logging.INFO) -> AbstractContextManager[RlsState]:
    """Run the block across every tenant. Only for code that is cross-tenant by design (the
    beat fan-out, sweepers, token lookups, the staff admin, operators' commands); the reason
    is logged (per-request lookups pass level=DEBUG)."""
    if not reason:
        raise ValueError("rls_bypass needs a reason")
    logger.log(level, "rls bypass: %s", reason)
    return _scope(RlsState(bypass=True))


def tenant_of(model, pk) -> int | None:
    """The tenant id of one row, looked up across tenants (a task gets ids, not tenants)."""
    if pk is None:
        return None
    with rls_bypass(f"tenant of {model._meta.label} {pk}", level=logging.DEBUG):
        return model._base_manager.filter(pk=pk).values_list("tenant_id", flat=True).first()


# -- requests ---------------------------------------------------------------------------------
_in_request: ContextVar[bool] = ContextVar("rls_in_request", default=False)


def activate_request_tenant(tenant) -> None:
    """Set the tenant for the rest of the current request, once it is resolved (the
    dashboard URL's tenant, an API key's tenant, an X-Tenant header, a webhook's account).
    RlsMiddleware puts the previous state back when the request ends."""
    if not _in_request.get():
        raise RuntimeError("activate_request_tenant() outside a request: use tenant_context()")
    _state.set(replace(current(), tenant_id=_tenant_id(tenant), bypass=False))
    _apply()


def _activate_request_state(state: RlsState) -> None:
    _state.set(state)
    _apply()


def _stream_in(state: RlsState, content) -> Iterator:
    """A streamed body (CSV exports) is produced after the middleware returned: it is
    produced in the request's state, put back when it is exhausted or closed (the response's
    close(), which the WSGI server always calls)."""
    with _scope(state):
        yield from content


class RlsMiddleware:
    """Every request starts seeing no tenant rows and ends with the state it found.

    Placed after AuthenticationMiddleware (it reads request.user) and right before
    accounts.tenancy.TenantMiddleware (which sets the tenant it resolves); the middleware
    before it touch no tenant-owned table.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        state_token = _state.set(NOTHING)
        request_token = _in_request.set(True)
        try:
            _apply()
            response = self.get_response(request)
            if getattr(response, "streaming", False) and not getattr(response, "is_async", False):
                response.streaming_content = _stream_in(current(), response.streaming_content)
            return response
        finally:
            _in_request.reset(request_token)
            _state.reset(state_token)
            _apply()

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        match = request.resolver_match
        if match is not None and match.namespace == "admin" and user.is_active and user.is_staff:
            # cross-tenant: the admin is for staff operators and lists every tenant's rows.
            _activate_request_state(RlsState(bypass=True, user_id=user.pk))
            logger.info("rls bypass: admin %s %s by staff user %s", request.method, request.path, user.pk)
            return None
        # A signed-in user may read their own memberships (tenant switcher, X-Tenant).
        _activate_request_state(replace(current(), user_id=user.pk))
        return None


# -- Celery tasks -----------------------------------------------------------------------------
def _wrap_task(
    fn: Callable, enter: Callable[[inspect.BoundArguments], AbstractContextManager], marker: str
) -> Callable:
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        with enter(bound):
            return fn(*args, **kwargs)

    wrapper.__signature__ = signature
    wrapper.rls_tenancy = marker
    return wrapper


def runs_in_tenant_of(**arguments) -> Callable[[Callable], Callable]:
    """A task (or function) taking row ids runs as the tenant of the first given one:
    `@runs_in_tenant_of(run_id=SyncRun, account_id=ProviderAccount)`. A row that is gone
    leaves it seeing nothing, so its own "missing" branch answers."""
    if not arguments:
        raise ValueError("runs_in_tenant_of needs argument=Model pairs")

    def decorate(fn: Callable) -> Callable:
        def enter(bound: inspect.BoundArguments):
            for name, model in arguments.items():
                pk = bound.arguments.get(name)
                if pk is not None:
                    return tenant_context(tenant_of(model, pk))
            return no_tenant()

        return _wrap_task(fn, enter, "tenant")

    return decorate


def cross_tenant(reason: str, *, level: int = logging.INFO) -> Callable[[Callable], Callable]:
    """A task or command that works over every tenant (beat fan-out, sweepers, retention,
    operators' tools): it runs in `rls_bypass(reason)`."""

    def decorate(fn: Callable) -> Callable:
        label = f"{fn.__module__}.{fn.__qualname__}: {reason}"
        return _wrap_task(fn, lambda bound: rls_bypass(label, level=level), "bypass")

    return decorate


cross_tenant_task = cross_tenant


_task_tokens: dict[str, list] = {}


def _task_prerun(task_id=None, **kwargs) -> None:
    # Whatever ran before in this worker (or the request that ran this task eagerly), a
    # task starts seeing nothing until its decorator sets its tenant.
    _task_tokens.setdefault(task_id, []).append(_state.set(NOTHING))
    _apply()


def _task_postrun(task_id=None, **kwargs) -> None:
    tokens = _task_tokens.get(task_id)
    token = tokens.pop() if tokens else None
    if tokens is not None and not tokens:
        _task_tokens.pop(task_id, None)
    try:
        if token is None:
            raise ValueError("no token")
        _state.reset(token)
    except ValueError:
        _state.set(NOTHING)
    _apply()


def connect_task_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_prerun, dispatch_uid="accounts.rls.task_prerun", weak=False)
    task_postrun.connect(_task_postrun, dispatch_uid="accounts.rls.task_postrun", weak=False)

"""Deleting a provider account for good: every row synced through it, table by table in
short batches, resumable. The tables are not named here: each app that owns a table
referencing an account registers its `PurgeStep`s in its AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.files.storage import default_storage
from django.db import connection, models, router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone

from .models import ProviderAccount

PURGE_BATCH = 5000


@dataclass(frozen=True)
class PurgeStep:
    """Rows of `model` ("app.Model") whose `field` points at an account being deleted,
    PURGE_BATCH at a time: the rows that reference them are deleted (on_delete=CASCADE) or
    cleared (SET_NULL) in the same transaction, as the models say. `detach` clears `field`
    instead of deleting the row (a subaccount deleted alone: its root's rows stay, without
    it). Steps run by `rank`, lowest first: the biggest tables first."""

    model: str
    field: str
    rank: int
    detach: bool = False

    @property
    def cascade(self) -> tuple[str, ...]:
        """"app.Model.fk" of the rows deleted with each row of this step."""
        return () if self.detach else _references(self.model, models.CASCADE)

    @property
    def set_null(self) -> tuple[str, ...]:
        """"app.Model.fk" of the references cleared when a row of this step goes."""
        return () if self.detach else _references(self.model, models.SET_NULL)


_steps: list[PurgeStep] = []


def register_purge_steps(*steps: PurgeStep) -> None:
    """Called by each app that owns a table referencing a provider account, in its
    AppConfig.ready(); tests/providers/test_delete_account.py checks nothing is missed."""
    for step in steps:
        if step not in _steps:
            _steps.append(step)


def purge_plan() -> list[PurgeStep]:
    """Every registered step, in the order a deletion runs them. Whatever a step misses,
    or a webhook writes meanwhile, is removed by the ORM with the account rows at the end."""
    return sorted(_steps, key=lambda step: step.rank)


def _references(label: str, on_delete: Any) -> tuple[str, ...]:
    """Foreign keys from other tables into `label` that delete (CASCADE) or clear (SET_NULL)."""
    found = []
    for rel in apps.get_model(label)._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue  # not a foreign key from another table into this one
        if rel.related_model is ProviderAccount:
            continue
        if rel.on_delete not in (models.CASCADE, models.SET_NULL):
            raise ValueError(f"{rel} into {label}: a purge can only cascade or set null.")
        if rel.on_delete is on_delete:
            found.append(f"{rel.related_model._meta.label}.{rel.field.name}")
    return tuple(found)


def _model_field(dotted: str) -> tuple[type[models.Model], str]:
    app, model, field = dotted.split(".")
    return apps.get_model(app, model), field


def _column(model: type[models.Model], field: str) -> str:
    concrete = model._meta.get_field(field)
    assert isinstance(concrete, models.Field) and concrete.column, f"{model}.{field} is no column"
    return concrete.column


def _returning(model: type[models.Model]) -> str:
    """Columns of stored files, so a DELETE hands back what to remove from storage."""
    columns = [_column(model, name) for name in _file_fields(model)]
    return f" RETURNING {', '.join(columns)}" if columns else ""


def _delete_ids(cursor, model: type[models.Model], column: str, ids: list[int]) -> tuple[int, list[str]]:
    table = model._meta.db_table
    cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s){_returning(model)}", [ids])  # noqa: S608
    files = [name for row in cursor.fetchall() for name in row if name] if _returning(model) else []
    return cursor.rowcount, files


def _purge_batch(cursor, step: PurgeStep, tenant_id: int, account_ids: list[int]) -> tuple[int, dict, list]:
    """One batch of one step, in the caller's transaction: (rows of step.model selected,
    rows deleted or detached per model, stored files to remove once committed)."""
    model = apps.get_model(step.model)
    table, column = model._meta.db_table, _column(model, step.field)
    # Our tables and columns, from the models: nothing user-given in the SQL text.
    cursor.execute(
        f"SELECT id FROM {table} WHERE {column} = ANY(%s) LIMIT %s",  # noqa: S608
        [account_ids, PURGE_BATCH],
    )
    ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return 0, {}, []
    counts: dict[str, int] = {}
    files: list[str] = []
    for dotted in step.cascade:
        child, fk = _model_field(dotted)
        count, child_files = _delete_ids(cursor, child, _column(child, fk), ids)
        counts[child._meta.label] = count
        files += child_files
    for dotted in step.set_null:
        other, fk = _model_field(dotted)
        fk_column = _column(other, fk)
        # With the tenant, so the tenant-leading indexes serve it: references stay in a tenant.
        cursor.execute(
            f"UPDATE {other._meta.db_table} SET {fk_column} = NULL "  # noqa: S608
            f"WHERE tenant_id = %s AND {fk_column} = ANY(%s)",
            [tenant_id, ids],
        )
    if step.detach:
        cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE id = ANY(%s)", [ids])  # noqa: S608
        counts[f"{step.model} (detached)"] = len(ids)
    else:
        count, own_files = _delete_ids(cursor, model, "id", ids)
        counts[model._meta.label] = count
        files += own_files
    return len(ids), counts, files


def purge_account(account_id: int, *, heartbeat: Callable[[], Any] | None = None) -> dict[str, int]:
    """Delete a `deleting` account, its subaccounts and every row synced through them, in
    short transactions of PURGE_BATCH rows per table; stored files go after each committed
    batch. Resumable: a run killed anywhere is finished by the next one (each step restarts
    from what is left). Returns rows deleted (or detached) per model."""
    Status = ProviderAccount.Status
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {}
    if account.status != Status.DELETING:
        raise ValueError(f"Account {account_id} is {account.status}, not deleting.")
    account_ids = [account.pk, *account.subaccounts.values_list("pk", flat=True)]
    counts: dict[str, int] = {}
    for step in purge_plan():
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                selected, batch, files = _purge_batch(cursor, step, account.tenant_id, account_ids)
                # Progress: the resume sweep leaves an account that is still moving alone.
                ProviderAccount.objects.filter(pk=account.pk).update(updated_at=timezone.now())
            _delete_files(files)  # committed: the rows are gone for good
            for label, count in batch.items():
                counts[label] = counts.get(label, 0) + count
            if heartbeat:
                heartbeat()
            if selected < PURGE_BATCH:
                break
    with transaction.atomic():
        # The account rows, and anything written since its step ran (a late webhook), by the ORM.
        collector = Collector(using=router.db_for_write(ProviderAccount))
        collector.collect([account])
        files = _stored_files(collector)
        _total, per_model = collector.delete()
        transaction.on_commit(lambda: _delete_files(files))
    for label, count in per_model.items():
        counts[label] = counts.get(label, 0) + count
    return {label: count for label, count in counts.items() if count}


def _file_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


def _stored_files(collector: Collector) -> list[str]:
    """Names of the files rows about to be deleted point at (fast deletes are querysets)."""
    names = [
        getattr(obj, name).name
        for model, objs in collector.data.items()
        for name in _file_fields(model)
        for obj in objs
        if getattr(obj, name)
    ]
    for qs in collector.fast_deletes:
        for name in _file_fields(qs.model):
            names += [n for n in qs.values_list(name, flat=True) if n]
    return names


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            pass  # a missing file is already what we want



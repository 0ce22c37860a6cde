"""One-row statements of the hottest path (a launch surge's pledges) as SQL text built once from the models' metadata.

Django's ORM spends 0.5-0.9 ms of CPU building and compiling each query (benchmarks/pledges.py measured it on the
pledge path); the same statement kept as text costs about 0.1 ms. Column lists, values and loaded instances follow
the models' own fields (every concrete field, prepared and converted as the ORM does), so only the WHERE clauses are
written by hand. For single rows on paths a profile shows to be hot; everything else uses the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


@cache
def _fields(model: type[Model], names: tuple[str, ...] | None = None) -> tuple[Field[Any, Any], ...]:
    """The concrete fields of `model` (or those named, by name or attname), in the model's order."""
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    if names is not None:
        wanted = set(names)
        fields = [field for field in fields if field.name in wanted or field.attname in wanted]
    return tuple(fields)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def _column(field: Field[Any, Any] | None) -> str:
    assert field is not None
    assert field.column is not None  # concrete
    return str(connection.ops.quote_name(field.column))


def _table(model: type[Model]) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


@cache
def columns(model: type[Model], alias: str, names: tuple[str, ...] | None = None) -> str:
    """The select list of `model`'s concrete fields (or those in `names`) under the table alias `alias`."""
    return ", ".join(f"{alias}.{_column(field)}" for field in _fields(model, names))


def width(model: type[Model], names: tuple[str, ...] | None = None) -> int:
    """How many columns `columns` selects."""
    return len(_fields(model, names))


def instance(model: type[M], row: Sequence[Any], start: int = 0, names: tuple[str, ...] | None = None) -> M:
    """The instance that `row[start:]` holds in `columns(model, ..., names)` order, loaded as the ORM loads one
    (`from_db`, the fields' converters); fields left out of `names` are deferred."""
    fields = _fields(model, names)
    values = list(row[start : start + len(fields)])
    for position, field in enumerate(fields):
        for converter in field.get_db_converters(connection):
            values[position] = converter(values[position], field, connection)
    return model.from_db(connection.alias, [field.attname for field in fields], values)


@cache
def _insert_sql(model: type[Model], conflict: str | None) -> tuple[str, tuple[Field[Any, Any], ...]]:
    meta = model._meta
    fields = tuple(field for field in _fields(model) if field is not meta.auto_field)
    on_conflict = f" ON CONFLICT ({_column(_field(model, conflict))}) DO NOTHING" if conflict else ""
    returning = f" RETURNING {_column(meta.pk)}" if meta.auto_field is not None else ""
    return (
        f"INSERT INTO {_table(model)} ({', '.join(_column(field) for field in fields)})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(fields))}){on_conflict}{returning}",
        fields,
    )


def insert(row: Model, *, unless_conflict_on: str | None = None) -> bool:
    """INSERT `row` (what `save(force_insert=True)` sends, without signals: the project connects none), setting its
    generated primary key. With `unless_conflict_on` (a field with a unique constraint of its own), a row whose
    value is taken is not inserted (ON CONFLICT DO NOTHING): False, and `row` stays unsaved. Of two concurrent
    inserts of one value, the second waits for the first to commit, then inserts nothing."""
    sql, fields = _insert_sql(type(row), unless_conflict_on)
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.fetchone() if row._meta.auto_field is not None else ()
    if inserted is None:
        return False
    if inserted:
        row.pk = inserted[0]
    row._state.adding = False
    row._state.db = connection.alias
    return True


@cache
def _update_sql(model: type[Model], names: tuple[str, ...], conditions: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{_column(_field(model, name))} = %s" for name in names)
    checks = "".join(f" AND {_column(_field(model, name))} = %s" for name in conditions)
    return f"UPDATE {_table(model)} SET {assignments} WHERE {_column(model._meta.pk)} = %s{checks}"  # noqa: S608


def update(model: type[Model], pk: Any, *, where: dict[str, Any] | None = None, **values: Any) -> bool:
    """UPDATE the row of `model` with primary key `pk`, only while its fields hold the values in `where` (a
    conditional UPDATE: of concurrent ones, exactly one changes the row); True when the row was changed. Fields
    are named as in the model (a foreign key by its attname, e.g. `payment_id`)."""
    where = where or {}
    sql = _update_sql(model, tuple(values), tuple(where))
    params = [_field(model, name).get_db_prep_save(value, connection) for name, value in values.items()]
    params.append(pk)
    params += [_field(model, name).get_db_prep_save(value, connection) for name, value in where.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1

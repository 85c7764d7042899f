"""Set-based writes the ORM does not offer: INSERT … ON CONFLICT … RETURNING and UPDATE … FROM a set of rows.

On PostgreSQL the rows travel by COPY into a temporary table and one INSERT … SELECT or UPDATE …
FROM joins them: binding tens of thousands of parameters costs more than the database work.
Elsewhere (SQLite) they are multi-row VALUES in chunks inside the parameter limit. Table and column
names come from the models; values are never part of the SQL text.
"""

import itertools
import json
from collections.abc import Sequence
from contextlib import contextmanager

from django.db import connection
from django.db.models import JSONField

CHUNK_PARAMETERS = 20_000
_temp_names = itertools.count(1)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _field(model, name: str):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def _column(model, name: str) -> str:
    return _field(model, name).column


def _prepared(model, columns: Sequence[str], rows: Sequence[Sequence]) -> Sequence[Sequence]:
    """Return the rows with every value as the database takes it (dates, decimals, JSON, related ids).

    psycopg adapts plain Python values itself, so on PostgreSQL only JSON is turned into text; other
    databases get Django's full preparation.
    """
    fields = [_field(model, column) for column in columns]
    if connection.vendor == "postgresql":
        json_columns = {i for i, field in enumerate(fields) if isinstance(field, JSONField)}
        if not json_columns:
            return rows
        return [
            [json.dumps(value, cls=fields[i].encoder) if i in json_columns else value for i, value in enumerate(row)]
            for row in rows
        ]
    return [
        [field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)] for row in rows
    ]


@contextmanager
def _rows_table(model, columns: Sequence[str], rows: Sequence[Sequence]):
    """Yield the name of a temporary table holding `rows` (PostgreSQL: created, filled by COPY, dropped)."""
    name = f"_bulk_rows_{next(_temp_names)}"
    types = ", ".join(f"c{i} {_field(model, column).db_type(connection)}" for i, column in enumerate(columns))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {name} ({types})")
        try:
            with cursor.cursor.copy(f"COPY {name} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            yield name, cursor
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _chunks(rows: Sequence, width: int):
    size = max(1, CHUNK_PARAMETERS // max(1, width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert_returning(
    model, columns: Sequence[str], rows: Sequence[Sequence], *, conflict: str = "", returning: Sequence[str] = ()
) -> list[tuple]:
    """INSERT `rows` (values in the order of `columns`); return the RETURNING rows of those written.

    `conflict` is an ON CONFLICT clause such as "(ticket_id, level) DO NOTHING": rows it skips are not
    returned, which tells the caller exactly which rows are new.
    """
    if not rows:
        return []
    rows = _prepared(model, columns, rows)
    table = _quote(model._meta.db_table)
    names = ", ".join(_quote(_column(model, column)) for column in columns)
    tail = f" ON CONFLICT {conflict}" if conflict else ""
    if returning:
        tail += " RETURNING " + ", ".join(_quote(_column(model, column)) for column in returning)
    if connection.vendor == "postgresql":
        with _rows_table(model, columns, rows) as (temp, cursor):
            values = ", ".join(f"c{i}" for i in range(len(columns)))
            # WHERE true: an INSERT … SELECT with ON CONFLICT needs it to parse unambiguously.
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {temp} WHERE true{tail}")  # noqa: S608 (names from the models)
            return cursor.fetchall() if returning else []
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    found = []
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, len(columns)):
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}{tail}",  # noqa: S608 (names from the models; values are parameters)
                [value for row in chunk for value in row],
            )
            if returning:
                found.extend(cursor.fetchall())
    return found


def insert_objects(model, objects: Sequence) -> None:
    """INSERT unsaved instances of `model` as `bulk_create` does (defaults, auto_now), setting their ids.

    On PostgreSQL the ids are drawn from the table's sequence first and the rows go straight into
    the table by COPY (its triggers fire as for INSERT): no tens of thousands of bound parameters,
    and each instance knows its id without relying on the order of RETURNING rows. Elsewhere this
    is `bulk_create`.
    """
    if not objects:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create(objects)
        return
    for instance, new_id in zip(objects, _new_ids(model, len(objects)), strict=True):
        instance.pk = new_id
        instance._state.adding, instance._state.db = False, connection.alias
    fields = list(model._meta.local_concrete_fields)
    _copy(model, fields, [[field.pre_save(instance, True) for field in fields] for instance in objects])


def insert_rows(model, rows: Sequence[dict]) -> list[int]:
    """INSERT rows given as {field attname: value}, the model's defaults for the rest; return their ids in order.

    For many rows of a model whose instances would cost more to build than to write (timeline
    events): no model instance, no auto_now. PostgreSQL as in `insert_objects`; elsewhere one
    INSERT … RETURNING per chunk.
    """
    if not rows:
        return []
    fields = [field for field in model._meta.local_concrete_fields if not field.primary_key]
    names = {field.attname for field in fields}
    values = []
    for row in rows:
        if unknown := row.keys() - names:
            raise ValueError(f"{model.__name__} has no field {sorted(unknown)[0]!r}.")
        values.append([row[field.attname] if field.attname in row else field.get_default() for field in fields])
    if connection.vendor != "postgresql":
        returned = insert_returning(model, [field.name for field in fields], values, returning=["pk"])
        return [row[0] for row in returned]
    ids = _new_ids(model, len(rows))
    _copy(model, [model._meta.pk, *fields], [[new_id, *row] for new_id, row in zip(ids, values, strict=True)])
    return ids


def _new_ids(model, count: int) -> list[int]:
    """Draw `count` ids from the sequence of the model's table (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(model, fields: Sequence, rows: Sequence[Sequence]) -> None:
    """COPY `rows` (values in the order of `fields`) straight into the model's table (PostgreSQL)."""
    rows = _prepared(model, [field.name for field in fields], rows)
    names = ", ".join(_quote(field.column) for field in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {_quote(model._meta.db_table)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def analyze(*models) -> None:
    """Refresh the planner's statistics of the models' tables (PostgreSQL; elsewhere nothing).

    After many rows went in, the statistics autovacuum keeps lag behind: a lookup by a few
    thousand keys is then planned as a scan of everything written so far.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {_quote(model._meta.db_table)}")


def update_from_values(model, key: str, columns: Sequence[str], rows: Sequence[Sequence]) -> int:
    """UPDATE each row of `model` whose `key` is a row's first value, setting `columns` to the others."""
    if not rows:
        return 0
    names = [key, *columns]
    rows = _prepared(model, names, rows)
    table = _quote(model._meta.db_table)
    assignments = ", ".join(f"{_quote(_column(model, column))} = v.c{i + 1}" for i, column in enumerate(columns))
    match = f"{table}.{_quote(_column(model, key))} = v.c0"
    if connection.vendor == "postgresql":
        with _rows_table(model, names, rows) as (temp, cursor):
            cursor.execute(f"UPDATE {table} SET {assignments} FROM {temp} AS v WHERE {match}")  # noqa: S608 (names from the models)
            return cursor.rowcount
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    updated = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, len(names)):
            sql = f"WITH v ({aliases}) AS (VALUES {', '.join([one] * len(chunk))}) UPDATE {table} SET {assignments} FROM v WHERE {match}"  # noqa: S608 (names from the models; values are parameters)
            cursor.execute(sql, [value for row in chunk for value in row])
            updated += cursor.rowcount
    return updated

"""Set-based writes the ORM does not offer: INSERT … ON CONFLICT … RETURNING and UPDATE … FROM VALUES.

Both run on PostgreSQL and on SQLite (3.35+), in chunks that stay inside every driver's limit on
bound parameters. Table and column names come from the models, values are always parameters.
"""

from collections.abc import Sequence

from django.db import connection

CHUNK_PARAMETERS = 20_000


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model, name: str):
    return _field(model, name).column


def _placeholder(model, name: str) -> str:
    # PostgreSQL reads untyped VALUES as text; SQLite must not CAST (it would turn dates into numbers).
    if connection.vendor != "postgresql":
        return "%s"
    return f"CAST(%s AS {_field(model, name).db_type(connection)})"


def _field(model, name: str):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def _prepared(model, columns: Sequence[str], rows: Sequence[Sequence]) -> list[list]:
    """Return the rows with every value as the database takes it (dates, decimals, JSON, related ids)."""
    fields = [_field(model, column) for column in columns]
    return [
        [field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)] for row in rows
    ]


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
    names = ", ".join(_quote(_column(model, column)) for column in columns)
    one = "(" + ", ".join(_placeholder(model, column) for column in columns) + ")"
    tail = f" ON CONFLICT {conflict}" if conflict else ""
    if returning:
        tail += " RETURNING " + ", ".join(_quote(_column(model, column)) for column in returning)
    found = []
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, len(columns)):
            cursor.execute(
                f"INSERT INTO {_quote(model._meta.db_table)} ({names}) VALUES {', '.join([one] * len(chunk))}{tail}",  # noqa: S608 (names from the models; values are parameters)
                [value for row in chunk for value in row],
            )
            if returning:
                found.extend(cursor.fetchall())
    return found


def update_from_values(model, key: str, columns: Sequence[str], rows: Sequence[Sequence]) -> int:
    """UPDATE each row of `model` whose `key` is a row's first value, setting `columns` to the others."""
    if not rows:
        return 0
    names = [key, *columns]
    rows = _prepared(model, names, rows)
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    one = "(" + ", ".join(_placeholder(model, name) for name in names) + ")"
    assignments = ", ".join(f"{_quote(_column(model, column))} = v.c{i + 1}" for i, column in enumerate(columns))
    table = _quote(model._meta.db_table)
    updated = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, len(names)):
            sql = (
                f"WITH v ({aliases}) AS (VALUES {', '.join([one] * len(chunk))}) "  # noqa: S608 (names from the models; values are parameters)
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{_quote(_column(model, key))} = v.c0"
            )
            cursor.execute(sql, [value for row in chunk for value in row])
            updated += cursor.rowcount
    return updated

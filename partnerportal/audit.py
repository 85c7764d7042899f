"""Who did it: attach the acting user and the place of a change to the audit trail.

The trail itself is written by PostgreSQL triggers (django-pghistory), so bulk `update()` and
`bulk_create` are recorded too. Triggers and the per-transaction context variables they read
exist only on PostgreSQL; on the embedded SQLite default both helpers here do nothing.
"""

import contextlib
from typing import Any

import pghistory
from django.db import connection, connections
from pghistory.middleware import HistoryMiddleware


def audit_enabled() -> bool:
    return connection.vendor == "postgresql"


def audit_context(**metadata: Any) -> contextlib.AbstractContextManager[object]:
    """Return a context manager that labels every audited write inside it with `metadata`."""
    if not audit_enabled():
        return contextlib.nullcontext()
    return pghistory.context(**metadata)


class AuditContextMiddleware(HistoryMiddleware):
    """Label the writes of each request with the user and URL, on PostgreSQL."""

    def __call__(self, request):
        if not audit_enabled():
            return self.get_response(request)
        return super().__call__(request)


# Set inside every audit trigger function that joins old and new rows (see below).
AUDIT_TRIGGER_SETTINGS = ("enable_nestloop=off", "jit=off")


def plan_audit_joins_for_any_size(using: str = "default", **_: Any) -> None:
    """Keep the audit triggers' join of old and new rows fast whatever the size of the first statement.

    A statement-level UPDATE trigger joins the statement's old and new rows. PL/pgSQL plans that
    join once per connection, for the row count of the first statement that fires it, and keeps
    the plan: after a one-row UPDATE (any page, any ticket change) a 2,000-row UPDATE joined as a
    nested loop, 2,000 × 2,000 comparisons. With nested loops off inside those functions the join
    is planned as a hash or merge join, which is as cheap for one row and stays linear for many.

    Turning nested loops off only makes them look dear (PostgreSQL adds a huge cost to the plan
    instead of refusing them), and the trigger's cross join with its context row is still one;
    such a cost passes every JIT threshold, so each trigger call compiled its statement (about
    400 ms for a one-row ticket update). JIT is therefore off inside the same functions.
    Run after every migrate (the trigger functions are re-created by migrations).
    """
    conn = connections[using]
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p"
            " WHERE p.proname LIKE 'pgtrigger\\_%%' AND p.prosrc LIKE '%%JOIN new_values%%'"
            " AND NOT coalesce(p.proconfig, '{}') @> %s::text[]",
            [list(AUDIT_TRIGGER_SETTINGS)],
        )
        for (function,) in cursor.fetchall():
            for setting in AUDIT_TRIGGER_SETTINGS:
                name, value = setting.split("=")
                cursor.execute(f"ALTER FUNCTION {function} SET {name} = {value}")

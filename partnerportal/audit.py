"""Who did it: attach the acting user and the place of a change to the audit trail.

The trail itself is written by PostgreSQL triggers (django-pghistory), so bulk `update()` and
`bulk_create` are recorded too. Triggers and the per-transaction context variables they read
exist only on PostgreSQL; on the embedded SQLite default both helpers here do nothing.
"""

import contextlib
from typing import Any

import pghistory
from django.db import connection
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

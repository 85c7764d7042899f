"""What the import's writers share: the identity types, the one-object failure, and caches undone with savepoints."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from partnerportal.bulk import insert_returning
from support.models import ImportRun, SourceIdentity

# Internal identity type: the events derived from a ticket's history (its status changes, a note of
# its CCs), replaced when the ticket changes. Not a source object: not in the report.
DERIVED_EVENT = "derived_event"
PLACEHOLDER_DOMAIN = "placeholder.invalid"
V = TypeVar("V")


class Known(NamedTuple):
    """What an earlier run made of a source object: its identity row, read without a model instance."""

    pk: int
    object_id: int
    fingerprint: str
    made_here: bool


class ObjectFailed(Exception):
    """This one source object cannot be imported; the message says why."""


class Journaled(dict[str, V]):
    """A cache whose entries made while an object is written are undone if that object's savepoint rolls back."""

    def __init__(self, journal: "Journal") -> None:
        super().__init__()
        self.journal = journal

    def __setitem__(self, key: str, value: V) -> None:
        self.journal.append((self, key, key in self, self.get(key)))
        super().__setitem__(key, value)


Journal = list[tuple[Journaled[Any], str, bool, Any]]


def undo(journal: Journal) -> None:
    """Undo the cache entries `journal` recorded, newest first, and empty it."""
    for cache, key, existed, old in reversed(journal):
        if existed:
            dict.__setitem__(cache, key, old)
        else:
            cache.pop(key, None)
    journal.clear()


IDENTITY_COLUMNS = ["source_system", "object_type", "source_id", "content_type", "object_id", "fingerprint"]


def insert_identities(run: ImportRun, rows: Sequence[tuple[str, str, str, int, int, str]], now: datetime) -> None:
    """Insert what objects the run made became: rows of (system, type, source id, content type id, id, fingerprint)."""
    columns = [*IDENTITY_COLUMNS, "made_here", "first_run", "last_run", "imported_at", "updated_at"]
    insert_returning(SourceIdentity, columns, [(*row, True, run.pk, run.pk, now, now) for row in rows])

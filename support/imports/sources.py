"""The source systems an import reads, by name: each reader turns a source into a checked SourceExport."""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from support.models import ImportRun

from .helpdesk import read_helpdesk
from .records import SourceError, SourceExport
from .zendesk import read_zendesk

Reader = Callable[[str, datetime | None], SourceExport]


def _zendesk(description: str, since: datetime | None) -> SourceExport:
    return read_zendesk(Path(description), since=since)


def _helpdesk(description: str, since: datetime | None) -> SourceExport:
    return read_helpdesk(description, since=since)


READERS: dict[str, Reader] = {ImportRun.Source.ZENDESK: _zendesk, ImportRun.Source.HELPDESK: _helpdesk}


def read_source(system: str, description: str, *, since: datetime | None = None) -> SourceExport:
    """Return the checked contents of the source `description` (a directory, a database URL) of `system`."""
    if system not in READERS:
        raise SourceError(f"No reader for {system!r} yet; sources: {', '.join(READERS)}.")
    return READERS[system](description, since)

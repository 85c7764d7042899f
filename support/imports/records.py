"""What a source helpdesk holds, as the import reads it: plain records, the same for every source.

A source reader (support.imports.zendesk, …) turns its export into a `SourceExport`, or raises
`SourceError` with one line saying what is wrong. The runner then maps and writes these records
and never looks at the source's own format again.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# The object types of the reconciliation report, in the order they are imported.
ORGANIZATION, USER, GROUP, TICKET_FIELD, TICKET, COMMENT, ATTACHMENT = (
    "organization",
    "user",
    "group",
    "ticket_field",
    "ticket",
    "comment",
    "attachment",
)
OBJECT_TYPES = (ORGANIZATION, USER, GROUP, TICKET_FIELD, TICKET, COMMENT, ATTACHMENT)


class SourceError(Exception):
    """The source cannot be imported; the message says what is wrong, in one line."""


def digest(value: Any) -> str:
    """Return a stable digest of a JSON-able value: a source object's fingerprint."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Organization:
    source_id: str
    name: str
    domains: tuple[str, ...]
    raw: dict[str, Any]


@dataclass(frozen=True)
class Person:
    source_id: str
    name: str
    email: str  # lower case; empty when the source has none
    is_agent: bool
    organization_id: str  # empty when none
    raw: dict[str, Any]


@dataclass(frozen=True)
class Group:
    source_id: str
    name: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class TicketField:
    source_id: str
    title: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class Attachment:
    source_id: str
    file_name: str
    size: int
    path: Path | None  # where the export holds the file; None when it is not there
    raw: dict[str, Any]
    missing: str = ""  # why the file is not there, in the source's words (when path is None)


@dataclass(frozen=True)
class Comment:
    source_id: str
    author_id: str
    body: str
    public: bool
    created_at: datetime
    attachments: tuple[Attachment, ...]
    raw: dict[str, Any]


@dataclass(frozen=True)
class StatusChange:
    """The source status moved from `old` to `new` (source words) at `at`, by `author_id`."""

    at: datetime
    author_id: str
    old: str
    new: str


@dataclass(frozen=True)
class Ticket:
    source_id: str
    subject: str
    description: str
    status: str
    priority: str | None
    type: str | None
    requester_id: str
    assignee_id: str
    organization_id: str
    group_id: str
    created_at: datetime
    updated_at: datetime
    custom_fields: dict[str, Any]  # ticket field id → value
    cc_ids: tuple[str, ...]
    status_changes: tuple[StatusChange, ...]  # oldest first; empty when the export has no audits
    comments: tuple[Comment, ...]  # oldest first; the first is the description in Zendesk
    raw: dict[str, Any]
    # Whether the first comment is the ticket's opening (its description): always in Zendesk; in
    # django-helpdesk when the first follow-up repeats the description.
    first_comment_is_description: bool = True

    @property
    def fingerprint_source(self) -> dict[str, Any]:
        """Return what the ticket's own row depends on (its comments are objects of their own)."""
        return {"ticket": self.raw, "changes": [(c.at, c.author_id, c.old, c.new) for c in self.status_changes]}


@dataclass
class SourceExport:
    """Everything read from one source, checked: ids unique per type, text UTF-8, dates parsed."""

    system: str
    description: str
    fingerprint: str
    organizations: list[Organization] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    ticket_fields: list[TicketField] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    # Comments whose ticket is not in the export: counted, and skipped with that reason.
    orphan_comments: list[Comment] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Return the number of source objects of each type."""
        comments = [*self.orphan_comments, *(c for t in self.tickets for c in t.comments)]
        return {
            ORGANIZATION: len(self.organizations),
            USER: len(self.people),
            GROUP: len(self.groups),
            TICKET_FIELD: len(self.ticket_fields),
            TICKET: len(self.tickets),
            COMMENT: len(comments),
            ATTACHMENT: sum(len(c.attachments) for c in comments),
        }

"""Read a Zendesk export: JSON files in the shapes of Zendesk's incremental export and ticket APIs.

The directory (docs/migration.md says how to make it):

- any number of `*.json` pages at the top, each a JSON object holding one or more of the lists
  `tickets`, `users`, `organizations`, `groups`, `ticket_fields` — the responses of
  `GET /api/v2/incremental/tickets/cursor.json` (with `include=users,groups,organizations` or
  not), `/incremental/users`, `/incremental/organizations`, `/groups`, `/ticket_fields` as saved;
- `ticket_comments/<ticket id>.json`: the response of `GET /api/v2/tickets/<id>/comments`
  (`{"comments": [...]}`), and/or `ticket_audits/<ticket id>.json`: the response of
  `GET /api/v2/tickets/<id>/audits` (`{"audits": [...]}`), whose Comment events are the comments
  when no comments file is there and whose status Change events are the ticket's status history;
- `attachments/<attachment id>/<file name>`: the file behind each attachment's `content_url`.

Everything is read and checked before anything is written: ids unique per type, text UTF-8 with
no NUL, dates ISO 8601, the fields the import needs present.
"""

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from .records import (
    Attachment,
    Comment,
    Group,
    Organization,
    Person,
    SourceError,
    SourceExport,
    StatusChange,
    Ticket,
    TicketField,
)

LISTS = ("tickets", "users", "organizations", "groups", "ticket_fields")
AGENT_ROLES = {"agent", "admin"}


def read_zendesk(directory: Path, *, since: datetime | None = None) -> SourceExport:
    """Return the checked contents of a Zendesk export in `directory`; raise SourceError saying what is wrong."""
    if not directory.is_dir():
        raise SourceError(f"--source-dir {directory}: no such directory.")
    pages = sorted(directory.glob("*.json"))
    digest = hashlib.sha256()
    lists: dict[str, dict[str, tuple[dict[str, Any], str]]] = {name: {} for name in LISTS}
    for page in pages:
        content = _load(page, directory, digest)
        if not isinstance(content, dict):
            raise SourceError(f'{page.name}: expected a JSON object such as {{"tickets": [...]}}.')
        for name in LISTS:
            if name in content:
                _collect(lists[name], content[name], name, page.name)
    if not lists["tickets"]:
        raise SourceError(
            f"--source-dir {directory}: no tickets found; expected a page such as tickets.json "
            '({"tickets": [...]}) from Zendesk\'s incremental ticket export.'
        )
    fields = [
        TicketField(i, str(raw.get("title") or raw.get("raw_title") or i), raw)
        for i, (raw, _) in _sorted(lists["ticket_fields"])
    ]
    export = SourceExport(
        system="zendesk",
        description=str(directory.resolve()),
        fingerprint="",
        organizations=[_organization(i, raw) for i, (raw, _) in _sorted(lists["organizations"])],
        people=[_person(i, raw) for i, (raw, _) in _sorted(lists["users"])],
        groups=[Group(i, str(raw.get("name") or i), raw) for i, (raw, _) in _sorted(lists["groups"])],
        ticket_fields=fields,
    )
    ticket_ids = set()
    for ticket_id, (raw, found_in) in _sorted(lists["tickets"]):
        ticket = _ticket(ticket_id, raw, found_in, directory, digest)
        ticket_ids.add(ticket_id)
        if since is None or ticket.updated_at >= since:
            export.tickets.append(ticket)
    export.orphan_comments = _orphan_comments(directory, ticket_ids, digest)
    _digest_attachments(directory, digest)
    export.fingerprint = digest.hexdigest()
    return export


def _load(path: Path, directory: Path, digest: "hashlib._Hash") -> Any:
    name = path.relative_to(directory).as_posix()
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SourceError(f"{name}: cannot read it ({error.strerror}).") from None
    digest.update(name.encode() + b"\0" + hashlib.sha256(raw).digest())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{name}: not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); export it again as UTF-8."
        ) from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise SourceError(f"{name}: broken JSON at line {error.lineno} column {error.colno}: {error.msg}.") from None
    _check_text(content, name)
    return content


def _check_text(value: Any, name: str) -> None:
    """Refuse text a database cannot store: lone surrogates (escaped in JSON) and NUL characters."""
    if isinstance(value, str):
        if "\x00" in value:
            raise SourceError(f"{name}: text with a NUL character ({value[:40]!r}…).")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SourceError(f"{name}: text that is not valid Unicode ({value[:40]!r}…).") from None
    elif isinstance(value, dict):
        for item in value.values():
            _check_text(item, name)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, name)


def _collect(into: dict[str, tuple[dict[str, Any], str]], items: Any, name: str, page: str) -> None:
    if not isinstance(items, list):
        raise SourceError(f"{page}: “{name}” should be a list.")
    for item in items:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise SourceError(f"{page}: an entry of “{name}” has no id.")
        key = str(item["id"])
        if key in into and into[key][0] != item:
            # The same record side-loaded twice (include=users…) is one; two versions of it are not.
            raise SourceError(
                f"{page}: {name} id {key} appears twice with different contents (also in {into[key][1]}); "
                "export again, or keep one."
            )
        into.setdefault(key, (item, page))


def _sorted(items: dict[str, tuple[dict[str, Any], str]]) -> list[tuple[str, tuple[dict[str, Any], str]]]:
    # Numeric ids in numeric order: batches are the same on every run, so a resumed run continues.
    return sorted(items.items(), key=lambda pair: (len(pair[0]), pair[0]))


def _when(value: Any, what: str, page: str) -> datetime:
    if not isinstance(value, str):
        raise SourceError(f"{page}: {what} has no date.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SourceError(f"{page}: {what} has the date {value!r}, not ISO 8601 (2026-03-02T10:00:00Z).") from None
    if moment.tzinfo is None:
        raise SourceError(f"{page}: {what} has the date {value!r} without a time zone.")
    return moment


def _id(value: Any) -> str:
    return "" if value in (None, "") else str(value)


def _organization(source_id: str, raw: dict[str, Any]) -> Organization:
    domains = tuple(str(d).lower() for d in raw.get("domain_names") or ())
    return Organization(source_id, str(raw.get("name") or f"Organization {source_id}"), domains, raw)


def _person(source_id: str, raw: dict[str, Any]) -> Person:
    email = str(raw.get("email") or "").strip().lower()
    return Person(
        source_id=source_id,
        name=str(raw.get("name") or ""),
        email=email,
        is_agent=str(raw.get("role") or "end-user") in AGENT_ROLES,
        organization_id=_id(raw.get("organization_id")),
        raw=raw,
    )


def _ticket(ticket_id: str, raw: dict[str, Any], page: str, directory: Path, digest: "hashlib._Hash") -> Ticket:
    what = f"ticket {ticket_id}"
    for required in ("status", "requester_id"):
        if raw.get(required) in (None, ""):
            raise SourceError(f"{page}: {what} has no {required}.")
    comments_file = directory / "ticket_comments" / f"{ticket_id}.json"
    audits_file = directory / "ticket_audits" / f"{ticket_id}.json"
    audits = _list_in(audits_file, "audits", directory, digest) if audits_file.exists() else []
    if comments_file.exists():
        comments = [
            _comment(c, c.get("created_at"), c.get("author_id"), comments_file.name, directory)
            for c in _list_in(comments_file, "comments", directory, digest)
        ]
    else:
        comments = [
            _comment(
                event,
                audit.get("created_at"),
                event.get("author_id", audit.get("author_id")),
                audits_file.name,
                directory,
            )
            for audit in audits
            for event in audit.get("events") or ()
            if event.get("type") in ("Comment", "VoiceComment")
        ]
    _unique([c.source_id for c in comments], f"ticket_comments/{ticket_id}.json: comment")
    return Ticket(
        source_id=ticket_id,
        subject=str(raw.get("subject") or raw.get("raw_subject") or ""),
        description=str(raw.get("description") or ""),
        status=str(raw["status"]),
        priority=raw.get("priority"),
        type=raw.get("type"),
        requester_id=_id(raw.get("requester_id")),
        assignee_id=_id(raw.get("assignee_id")),
        organization_id=_id(raw.get("organization_id")),
        group_id=_id(raw.get("group_id")),
        created_at=_when(raw.get("created_at"), what, page),
        updated_at=_when(raw.get("updated_at") or raw.get("created_at"), what, page),
        custom_fields={str(f.get("id")): f.get("value") for f in raw.get("custom_fields") or () if isinstance(f, dict)},
        cc_ids=tuple(_id(i) for i in [*(raw.get("collaborator_ids") or ()), *(raw.get("email_cc_ids") or ())]),
        status_changes=tuple(sorted(_status_changes(audits, audits_file.name), key=lambda change: change.at)),
        comments=tuple(
            sorted(comments, key=lambda comment: (comment.created_at, len(comment.source_id), comment.source_id))
        ),
        raw=raw,
    )


def _list_in(path: Path, key: str, directory: Path, digest: "hashlib._Hash") -> list[dict[str, Any]]:
    content = _load(path, directory, digest)
    name = path.relative_to(directory).as_posix()
    items = content.get(key) if isinstance(content, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SourceError(f'{name}: expected {{"{key}": [...]}} as Zendesk\'s API returns it.')
    return items


def _unique(ids: list[str], what: str) -> None:
    seen = set()
    for source_id in ids:
        if source_id in seen:
            raise SourceError(f"{what} id {source_id} appears twice.")
        seen.add(source_id)


def _comment(raw: dict[str, Any], created_at: Any, author_id: Any, page: str, directory: Path) -> Comment:
    if raw.get("id") in (None, ""):
        raise SourceError(f"{page}: a comment has no id.")
    comment_id = str(raw["id"])
    return Comment(
        source_id=comment_id,
        author_id=_id(author_id),
        body=str(raw.get("plain_body") or raw.get("body") or ""),
        public=bool(raw.get("public", True)),
        created_at=_when(created_at, f"comment {comment_id}", page),
        attachments=tuple(_attachment(a, page, directory) for a in raw.get("attachments") or ()),
        raw=raw,
    )


def _attachment(raw: Any, page: str, directory: Path) -> Attachment:
    if not isinstance(raw, dict) or raw.get("id") in (None, ""):
        raise SourceError(f"{page}: an attachment has no id.")
    attachment_id = str(raw["id"])
    file_name = Path(str(raw.get("file_name") or f"attachment-{attachment_id}")).name
    path = directory / "attachments" / attachment_id / file_name
    return Attachment(
        source_id=attachment_id,
        file_name=file_name,
        size=int(raw.get("size") or 0),
        path=path if path.is_file() else None,
        raw={key: value for key, value in raw.items() if key != "thumbnails"},
    )


def _status_changes(audits: list[dict[str, Any]], page: str) -> list[StatusChange]:
    changes = []
    for audit in audits:
        for event in audit.get("events") or ():
            if event.get("field_name") != "status" or event.get("type") not in ("Create", "Change"):
                continue
            old = str(event.get("previous_value") or "new")
            new = str(event.get("value") or "")
            if new and new != old:
                at = _when(audit.get("created_at"), f"audit {audit.get('id')}", page)
                changes.append(StatusChange(at, _id(event.get("author_id", audit.get("author_id"))), old, new))
    return changes


def _orphan_comments(directory: Path, ticket_ids: set[str], digest: "hashlib._Hash") -> list[Comment]:
    """Return the comments of files naming a ticket the export does not hold."""
    orphans = []
    folder = directory / "ticket_comments"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        if path.stem not in ticket_ids:
            orphans += [
                _comment(c, c.get("created_at"), c.get("author_id"), path.name, directory)
                for c in _list_in(path, "comments", directory, digest)
            ]
    return orphans


def _digest_attachments(directory: Path, digest: "hashlib._Hash") -> None:
    folder = directory / "attachments"
    for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
        if path.is_file():
            digest.update(f"{path.relative_to(directory).as_posix()}\0{path.stat().st_size}".encode())

"""Read a django-helpdesk 2.x database, read-only: PostgreSQL (psycopg) or a SQLite file (sqlite3, mode=ro).

The source address is the database URL, `postgres://user@host:port/name` or
`sqlite:////absolute/path.sqlite3`, with the attachments' folder (django-helpdesk's MEDIA_ROOT) as
a `media_root` query parameter: `source_address()` puts it there, from `--media-root`. The
password, if the URL holds one, is used to connect and left out of the run's description: runs a
worker resumes connect with ~/.pgpass or PGPASSWORD.

What is read (docs/migration.md): queues (`helpdesk_queue`, as groups: the mapping's
partners.groups sends a queue's tickets to a partner), tickets, follow-ups (`public` says reply or
internal note; one without text becomes an internal note with its title), the status changes
(each follow-up's `new_status`, or its "Status" ticket change), attachments (files under the media
root), users (`auth_user`; staff are agents) and the submitters and CCs who have no account (by
e-mail address). The first follow-up is the ticket's opening when it repeats the description, as
django-helpdesk's forms and its e-mail intake write it.

Everything is read in one read-only transaction and checked before anything is written: the
tables and columns the import needs present, ids unique, text without NUL characters and UTF-8.
"""

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg

from .records import Attachment, Comment, Group, Person, SourceError, SourceExport, StatusChange, Ticket

# The columns the import reads, per table: a schema without one of them is refused, naming it.
COLUMNS = {
    "auth_user": ("id", "username", "email", "first_name", "last_name", "is_staff", "is_superuser", "date_joined"),
    "helpdesk_queue": ("id", "title", "slug"),
    "helpdesk_ticket": (
        "id",
        "title",
        "queue_id",
        "created",
        "modified",
        "submitter_email",
        "assigned_to_id",
        "status",
        "description",
        "priority",
    ),
    "helpdesk_followup": (
        "id",
        "ticket_id",
        "date",
        "title",
        "comment",
        "public",
        "user_id",
        "new_status",
        "message_id",
    ),
    "helpdesk_ticketchange": ("id", "followup_id", "field", "old_value", "new_value"),
    "helpdesk_followupattachment": ("id", "followup_id", "file", "filename", "size"),
    "helpdesk_ticketcc": ("id", "ticket_id", "user_id", "email"),
}
# django-helpdesk's default statuses (helpdesk/settings.py); other numbers are read as themselves.
STATUSES = {1: "open", 2: "reopened", 3: "resolved", 4: "closed", 5: "duplicate"}
Row = dict[str, Any]


def source_address(url: str, media_root: str | None) -> str:
    """Return the source address of the database at `url` with its attachments under `media_root`."""
    if not media_root:
        return url
    base, _, query = url.partition("?")
    return f"{base}?{urlencode([*parse_qsl(query), ('media_root', str(Path(media_root).resolve()))])}"


def read_helpdesk(address: str, *, since: datetime | None = None) -> SourceExport:
    """Return the checked contents of the django-helpdesk database at `address`; raise SourceError saying what is wrong."""
    # Split by hand: urlunsplit would turn sqlite:////abs/path into sqlite://abs/path.
    base, _, query = address.partition("?")
    options = dict(parse_qsl(query))
    media_root = Path(options.pop("media_root")) if options.get("media_root") else None
    url = f"{base}?{urlencode(options)}" if options else base
    if media_root is not None and not media_root.is_dir():
        raise SourceError(f"--media-root {media_root}: no such directory.")
    with _connect(url) as (database, description):
        _check_schema(database, description)
        tables = {table: _rows(database, table) for table in COLUMNS}
    digest = hashlib.sha256()
    for table in COLUMNS:
        digest.update(table.encode() + repr([sorted(row.items()) for row in tables[table]]).encode())
    if media_root is not None:
        for attachment in tables["helpdesk_followupattachment"]:
            digest.update(_file_stamp(media_root, attachment).encode())
    export = _Records(tables, media_root).export(since)
    # The run keeps this, and a worker reads the source again from it: an address, without the password.
    export.description = source_address(description, str(media_root) if media_root else None)
    export.fingerprint = digest.hexdigest()
    return export


# --- the database ---------------------------------------------------------------------------------


class _Database:
    """One read-only connection: SQLite or PostgreSQL, asked the same two questions."""

    def __init__(self, connection: Any, vendor: str) -> None:
        self.connection, self.vendor = connection, vendor

    def columns(self, table: str) -> set[str]:
        cursor = self.connection.cursor()
        if self.vendor == "sqlite":
            return {row[1] for row in cursor.execute(f'PRAGMA table_info("{table}")')}
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}

    def select(self, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")  # noqa: S608  (names from COLUMNS)
        return list(cursor.fetchall())


@contextmanager
def _connect(url: str) -> Iterator[tuple[_Database, str]]:
    """Yield the database at `url`, opened read-only, and how the run names it (no password)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = Path(parts.path[1:]).resolve()
        if not path.is_file():
            raise SourceError(f"--source-url {url}: no SQLite file at {path}.")
        with closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)) as lite:
            lite.execute("BEGIN")  # one snapshot: every table read as of one moment
            yield _Database(lite, "sqlite"), f"sqlite:///{path}"
    elif parts.scheme in ("postgres", "postgresql"):
        shown = urlunsplit(parts._replace(netloc=_without_password(parts.netloc)))
        try:
            pg = psycopg.connect(url, connect_timeout=10)
        except psycopg.Error as error:
            raise SourceError(f"--source-url {shown}: cannot connect ({_first_line(error)}).") from None
        # One read-only snapshot: the source is never written, and every table is read as of one moment.
        pg.read_only = True
        pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with pg:
            yield _Database(pg, "postgresql"), shown
    else:
        raise SourceError(
            f"--source-url {parts.scheme}://…: expected postgres://user@host:port/name or sqlite:////path/to/file.sqlite3."
        )


def _without_password(netloc: str) -> str:
    credentials, at, host = netloc.rpartition("@")
    return f"{credentials.partition(':')[0]}{at}{host}"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _check_schema(database: _Database, description: str) -> None:
    missing = []
    for table, wanted in COLUMNS.items():
        found = database.columns(table)
        if not found:
            missing.append(f"table {table}")
        else:
            missing += [f"{table}.{column}" for column in wanted if column not in found]
    if missing:
        raise SourceError(
            f"{description}: not a django-helpdesk 2.x database, or of an older or newer schema: "
            f"{', '.join(missing)} missing."
        )


def _rows(database: _Database, table: str) -> list[Row]:
    columns = COLUMNS[table]
    try:
        rows = [dict(zip(columns, values, strict=True)) for values in database.select(table, columns)]
    except (sqlite3.OperationalError, UnicodeDecodeError) as error:
        raise SourceError(f"{table}: text that is not UTF-8 ({_first_line(error)}); fix it in the source.") from None
    seen: set[Any] = set()
    for row in rows:
        if row["id"] in seen:
            raise SourceError(f"{table}: id {row['id']} appears twice; the source's primary key is damaged.")
        seen.add(row["id"])
        for column, value in row.items():
            if isinstance(value, str) and "\x00" in value:
                raise SourceError(f"{table} id {row['id']}: {column} holds a NUL character ({value[:40]!r}…).")
    return rows


# --- records --------------------------------------------------------------------------------------


def _by(rows: list[Row], key: str) -> dict[Any, list[Row]]:
    grouped: dict[Any, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row[key], []).append(row)
    return grouped


class _Records:
    """The source's rows, grouped, turned into records: people, queues, tickets with their follow-ups."""

    def __init__(self, tables: dict[str, list[Row]], media_root: Path | None) -> None:
        self.tables, self.media_root = tables, media_root
        self.follow_ups = _by(tables["helpdesk_followup"], "ticket_id")
        self.changes = _by(tables["helpdesk_ticketchange"], "followup_id")
        self.files = _by(tables["helpdesk_followupattachment"], "followup_id")
        self.ccs = _by(tables["helpdesk_ticketcc"], "ticket_id")
        self.account_of_email: dict[str, str] = {}
        for user in tables["auth_user"]:
            self.account_of_email.setdefault(_email(user["email"]), str(user["id"]))
        self.account_of_email.pop("", None)
        self.addresses: dict[str, Person] = {}  # people known only by e-mail, as they come

    def person_of(self, email: str | None) -> str:
        """Return the source person of an e-mail address: its account, or the address itself."""
        address = _email(email)
        if address in self.account_of_email or not address:
            return self.account_of_email.get(address, "")
        if address not in self.addresses:
            self.addresses[address] = Person(f"email:{address}", "", address, False, "", {"email": address})
        return self.addresses[address].source_id

    def export(self, since: datetime | None) -> SourceExport:
        rows = self.tables["helpdesk_ticket"]
        known = {row["id"] for row in rows}
        if since is not None:
            # Only the tickets updated since then become records (a delta run reads little of a big source).
            rows = [row for row in rows if _when(row["modified"] or row["created"], _what(row)) >= since]
        tickets = [self.ticket(row) for row in rows]
        return SourceExport(
            system="helpdesk",
            description="",
            fingerprint="",
            groups=[Group(str(q["id"]), str(q["title"] or q["slug"]), q) for q in self.tables["helpdesk_queue"]],
            tickets=tickets,
            # Follow-ups of a ticket the database does not hold (SQLite enforces no foreign key by default).
            orphan_comments=[
                self.comment(f, "")
                for ticket_id, rows in self.follow_ups.items()
                if ticket_id not in known
                for f in rows
            ],
            people=[*(_person(user) for user in self.tables["auth_user"]), *self.addresses.values()],
        )

    def ticket(self, row: Row) -> Ticket:
        what = _what(row)
        requester = self.person_of(row["submitter_email"]) or f"ticket-{row['id']}-submitter"
        ccs = self.ccs.get(row["id"], [])
        cc_ids = [_id(cc["user_id"]) or self.person_of(cc["email"]) for cc in ccs]
        own = sorted(self.follow_ups.get(row["id"], []), key=lambda f: (_when(f["date"], what), f["id"]))
        changes = [c for f in own for c in self.changes.get(f["id"], [])]
        return Ticket(
            source_id=str(row["id"]),
            subject=str(row["title"] or ""),
            description=str(row["description"] or ""),
            status=_status(row["status"]),
            priority=_id(row["priority"]) or None,
            type=None,
            requester_id=requester,
            assignee_id=_id(row["assigned_to_id"]),
            organization_id="",
            group_id=_id(row["queue_id"]),
            created_at=_when(row["created"], what),
            updated_at=_when(row["modified"] or row["created"], what),
            custom_fields={},
            cc_ids=tuple(i for i in cc_ids if i),
            status_changes=tuple(_status_changes(own, self.changes, requester)),
            comments=tuple(self.comment(f, requester) for f in own),
            raw={"ticket": row, "ccs": ccs, "changes": changes},
            first_comment_is_description=bool(own) and _opens(own[0], row),
        )

    def comment(self, follow_up: Row, requester: str) -> Comment:
        text = str(follow_up["comment"] or "").strip()
        return Comment(
            source_id=str(follow_up["id"]),
            author_id=_author(follow_up, requester),
            # A follow-up without text records a change only (its title says which): an internal note.
            body=text or str(follow_up["title"] or "(no text)"),
            public=bool(follow_up["public"]) and bool(text),
            created_at=_when(follow_up["date"], f"helpdesk_followup id {follow_up['id']}"),
            attachments=tuple(_attachment(row, self.media_root) for row in self.files.get(follow_up["id"], [])),
            raw={"followup": follow_up, "changes": self.changes.get(follow_up["id"], [])},
        )


def _what(ticket: Row) -> str:
    return f"helpdesk_ticket id {ticket['id']}"


def _email(value: Any) -> str:
    return str(value or "").strip().lower()


def _id(value: Any) -> str:
    return "" if value in (None, "") else str(value)


def _when(value: Any, what: str) -> datetime:
    """Return a stored moment, aware: PostgreSQL gives it so; SQLite holds Django's UTC as text."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise SourceError(f"{what}: the date {value!r} is not one Django stored.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _status(value: Any) -> str:
    """Return the source status in words (django-helpdesk's defaults), or its number."""
    return STATUSES.get(value, str(value)) if value is not None else ""


def _person(user: Row) -> Person:
    name = " ".join(part for part in (user["first_name"], user["last_name"]) if part) or str(user["username"] or "")
    joined = _when(user["date_joined"], f"auth_user id {user['id']}") if user["date_joined"] else None
    return Person(
        source_id=str(user["id"]),
        name=name,
        email=_email(user["email"]),
        is_agent=bool(user["is_staff"] or user["is_superuser"]),
        organization_id="",
        raw={**user, "created_at": joined.isoformat() if joined else None},
    )


def _opens(first: Row, ticket: Row) -> bool:
    """Return True when the first follow-up is the ticket's opening: it repeats the description."""
    return (
        first["new_status"] is None and str(first["comment"] or "").strip() == str(ticket["description"] or "").strip()
    )


def _author(follow_up: Row, requester: str) -> str:
    """Return who wrote a follow-up: its user; without one, the submitter if it came by e-mail, else helpdesk."""
    return _id(follow_up["user_id"]) or (requester if follow_up["message_id"] else "")


def _attachment(row: Row, media_root: Path | None) -> Attachment:
    stored = str(row["file"] or "")
    file_name = Path(str(row["filename"] or stored or f"attachment-{row['id']}")).name
    path = (media_root / stored).resolve() if media_root is not None and stored else None
    if media_root is None:
        missing = "no --media-root was given to read the file from"
    else:
        missing = f"the file is not under --media-root ({stored})"
    if path is not None and media_root is not None and media_root.resolve() not in path.parents:
        path = None  # a stored name climbing out of the media root (../) reads nothing outside it
    return Attachment(
        source_id=str(row["id"]),
        file_name=file_name,
        size=int(row["size"] or 0),
        path=path if path is not None and path.is_file() else None,
        raw=row,
        missing=missing,
    )


def _file_stamp(media_root: Path, row: Row) -> str:
    path = media_root / str(row["file"] or "")
    return f"{row['file']}\0{path.stat().st_size if path.is_file() else -1}"


def _status_changes(follow_ups: list[Row], changes: dict[Any, list[Row]], requester: str) -> Iterator[StatusChange]:
    """Yield the ticket's status changes: each follow-up's new status, else its "Status" change's new value."""
    current = STATUSES[1]
    for follow_up in follow_ups:
        new = _status(follow_up["new_status"]) if follow_up["new_status"] is not None else None
        if new is None:
            labels = [c["new_value"] for c in changes.get(follow_up["id"], []) if str(c["field"]).lower() == "status"]
            # Its label, in English: the default statuses' labels are their words, capitalised.
            label = str(labels[-1]).strip().lower() if labels else ""
            new = label if label in STATUSES.values() else None
        if new and new != current:
            at = _when(follow_up["date"], f"helpdesk_followup id {follow_up['id']}")
            yield StatusChange(at, _author(follow_up, requester), current, new)
            current = new

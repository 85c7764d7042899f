"""The SLA sweep: record warnings and breaches as tickets cross them, exactly once.

Each ticket stores `next_sla_check_at`, the earliest threshold not yet recorded (partial index on
non-null values). The sweep claims due tickets in batches with `SELECT … FOR UPDATE SKIP LOCKED`,
so two sweeps running at once split the work instead of doubling it, writes the crossed
thresholds as timeline events (a unique constraint makes a second write of the same breach a
no-op), and moves each ticket's cursor to its next threshold, all in one transaction per batch.
A sweep killed halfway loses nothing: its open batch rolls back and the next sweep takes it.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from django.core.mail import send_mass_mail
from django.db import connection, transaction
from django.db.models import BooleanField, Case, DateTimeField, F, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Least, NullIf
from django.utils.dateparse import parse_datetime

from partnerportal.health import record_heartbeat

from . import sla
from .models import Ticket, TicketEvent

SWEEP = "sla_sweep"
COLUMNS = (
    "id",
    "status",
    "first_response_at",
    "first_response_warn_at",
    "first_response_due",
    "resolution_warn_at",
    "resolution_due",
    "next_sla_check_at",
    "assignee_id",
    "title",
)


@dataclass
class SweepResult:
    checked: int = 0
    recorded: int = 0
    events: list = field(default_factory=list)


def database_now() -> datetime:
    """Return the database server's clock: all workers then agree on what is due."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT now()")
            return cursor.fetchone()[0]
        cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        return parse_datetime(cursor.fetchone()[0]).replace(tzinfo=UTC)


def sweep_slas(*, batch_size: int = 2000, now: datetime | None = None, notify: bool = True) -> SweepResult:
    """Record every warning and breach due by now; safe to run in several processes at once."""
    now = now or database_now()
    result = SweepResult()
    while True:
        batch = _sweep_batch(now, batch_size)
        result.checked += batch.checked
        result.recorded += batch.recorded
        if notify and batch.events:
            _notify_assignees(batch.events)
        if batch.checked < batch_size:
            break
    record_heartbeat(SWEEP)
    return result


class ClaimedTicket(NamedTuple):
    """The columns the sweep reads, light enough for thousands of rows per batch."""

    id: int
    status: str
    first_response_at: datetime | None
    first_response_warn_at: datetime | None
    first_response_due: datetime | None
    resolution_warn_at: datetime | None
    resolution_due: datetime | None
    next_sla_check_at: datetime
    assignee_id: int | None
    title: str

    @property
    def pk(self) -> int:
        return self.id

    @property
    def is_open(self) -> bool:
        return self.status not in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)


INSERT_EVENTS = (
    "INSERT INTO support_ticketevent"
    " (ticket_id, kind, sla_target, at, public, by_staff, body, from_value, to_value)"
    " VALUES {rows} ON CONFLICT DO NOTHING RETURNING ticket_id, kind, sla_target"
)
EVENTS_PER_INSERT = 2000  # 10,000 parameters: inside every driver's and SQLite's limits


def _insert_events(crossed) -> set[tuple[int, str, str]]:
    """Insert the crossed thresholds; return those that were new (a repeat is a no-op)."""
    # Multi-row INSERTs of plain values: building thousands of model instances for bulk_create
    # costs more than the database work. The unique constraint makes a repeat a no-op, and
    # RETURNING tells which rows were really written, so nobody is mailed twice.
    inserted = set()
    with connection.cursor() as cursor:
        for start in range(0, len(crossed), EVENTS_PER_INSERT):
            chunk = crossed[start : start + EVENTS_PER_INSERT]
            rows = ", ".join(["(%s, %s, %s, %s, %s, %s, '', '', '')"] * len(chunk))
            params = [value for t, at, kind, target in chunk for value in (t.id, kind, target, at, False, False)]
            cursor.execute(INSERT_EVENTS.format(rows=rows), params)
            inserted.update(cursor.fetchall())
    return inserted


@transaction.atomic
def _sweep_batch(now: datetime, batch_size: int) -> SweepResult:
    rows = (
        Ticket.objects.filter(next_sla_check_at__lte=now)
        .order_by("next_sla_check_at")
        .select_for_update(skip_locked=True)
        .values_list(*COLUMNS)[:batch_size]
    )
    tickets = [ClaimedTicket(*row) for row in rows]
    crossed = [
        (ticket, instant, kind, target)
        for ticket in tickets
        for instant, kind, target in sla.thresholds(ticket)
        if ticket.next_sla_check_at <= instant <= now
    ]
    inserted = _insert_events(crossed)
    crossed = [item for item in crossed if (item[0].id, item[2], item[3]) in inserted]
    # One set-based UPDATE moves every claimed ticket's cursor to its next threshold after now.
    _claimed(tickets).update(next_sla_check_at=next_threshold_after(now))
    return SweepResult(checked=len(tickets), recorded=len(crossed), events=crossed)


def _claimed(tickets):
    ids = [ticket.id for ticket in tickets]
    if connection.vendor == "postgresql":  # one array parameter instead of thousands of placeholders
        return Ticket.objects.filter(RawSQL('"support_ticket"."id" = ANY(%s)', [ids], output_field=BooleanField()))
    return Ticket.objects.filter(pk__in=ids)


FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)


def next_threshold_after(now: datetime):
    """Return the SQL for a ticket's earliest threshold after `now` (None if none is left).

    The same thresholds as support.sla.thresholds, as a column expression so a whole batch is
    updated by one statement.
    """
    is_open = ~Q(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])
    unanswered = is_open & Q(first_response_at__isnull=True)
    running = is_open & Q(resolution_due__isnull=False)

    def candidate(column: str, applies: Q):
        return Case(
            When(applies & Q(**{f"{column}__gt": now}), then=F(column)),
            default=Value(FAR_FUTURE),
            output_field=DateTimeField(),
        )

    earliest = Least(
        candidate("first_response_warn_at", unanswered),
        candidate("first_response_due", unanswered),
        candidate("resolution_warn_at", running),
        candidate("resolution_due", running),
    )
    return NullIf(earliest, Value(FAR_FUTURE))


def _notify_assignees(crossed) -> None:
    from programs.models import User

    by_assignee = defaultdict(list)
    for ticket, _, kind, target in crossed:
        if ticket.assignee_id:
            by_assignee[ticket.assignee_id].append((ticket, kind, target))
    emails = dict(User.objects.filter(pk__in=by_assignee).values_list("pk", "email"))
    messages = []
    for assignee_id, items in by_assignee.items():
        lines = [
            f"#{ticket.id} {ticket.title}: {TicketEvent.Kind(kind).label} ({target.replace('_', ' ')})"
            for ticket, kind, target in items
        ]
        messages.append((f"SLA alert: {len(items)} ticket(s) need you", "\n".join(lines), None, [emails[assignee_id]]))
    send_mass_mail(messages, fail_silently=True)

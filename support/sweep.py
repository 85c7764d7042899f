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

from django.core.mail import send_mass_mail
from django.db import connection, transaction
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


@transaction.atomic
def _sweep_batch(now: datetime, batch_size: int) -> SweepResult:
    rows = list(
        Ticket.objects.filter(next_sla_check_at__lte=now)
        .order_by("next_sla_check_at")
        .select_for_update(skip_locked=True)
        .values_list(*COLUMNS)[:batch_size]
    )
    tickets = [Ticket(**dict(zip(COLUMNS, row, strict=True))) for row in rows]
    events = []
    for ticket in tickets:
        crossed = [point for point in sla.thresholds(ticket) if ticket.next_sla_check_at <= point[0] <= now]
        events += [
            TicketEvent(ticket_id=ticket.pk, kind=kind, sla_target=target, at=instant, public=False)
            for instant, kind, target in crossed
        ]
        ticket.next_sla_check_at = next((instant for instant, _, _ in sla.thresholds(ticket) if instant > now), None)
    TicketEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=1000)
    Ticket.objects.bulk_update(tickets, ["next_sla_check_at"], batch_size=1000)
    by_id = {ticket.pk: ticket for ticket in tickets}
    return SweepResult(
        checked=len(tickets), recorded=len(events), events=[(event, by_id[event.ticket_id]) for event in events]
    )


def _notify_assignees(notices) -> None:
    from programs.models import User

    by_assignee = defaultdict(list)
    for event, ticket in notices:
        if ticket.assignee_id:
            by_assignee[ticket.assignee_id].append((event, ticket))
    emails = dict(User.objects.filter(pk__in=by_assignee).values_list("pk", "email"))
    messages = []
    for assignee_id, items in by_assignee.items():
        lines = [
            f"#{ticket.pk} {ticket.title}: {TicketEvent.Kind(event.kind).label} ({event.sla_target.replace('_', ' ')})"
            for event, ticket in items
        ]
        messages.append((f"SLA alert: {len(items)} ticket(s) need you", "\n".join(lines), None, [emails[assignee_id]]))
    send_mass_mail(messages, fail_silently=True)

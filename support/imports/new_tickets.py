"""Tickets new to the portal, written a batch at a time: the import's fast path.

A first import is almost all new tickets. Writing each in its own savepoint (`Writer._ticket`)
costs a dozen statements per ticket and as many per comment; here a batch's new tickets are
mapped in Python, their clocks computed from their timelines in memory, and the tickets, events
and identities go in with one INSERT per table. The rules are the careful path's own — the same
values (`Writer._ticket_values`), history (`Writer._status_history`), clock (`clock.apply_clock`)
and thresholds (`sla.thresholds`) — and tests/support/test_imports_bulk.py holds the two paths
to the same rows.

A ticket the mapping refuses fails alone, before anything is written. A database error (a row
the database refuses) rolls the fast path's savepoint back and the batch's new tickets go the
careful way, one savepoint each, which names the one at fault. Tickets with attachments go the
careful way too: their files are checked and stored one by one.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from partnerportal.bulk import insert_objects, insert_rows
from support.models import Ticket, TicketEvent
from support.rules import sla
from support.tickets.clock import apply_clock, clock_inputs, past_thresholds

from . import records as r
from .identities import DERIVED_EVENT, ObjectFailed, insert_identities, undo
from .report import Tally

if TYPE_CHECKING:
    from .writers import Writer


def takes(source: r.Ticket) -> bool:
    """Return whether a new ticket can go the fast way: one without files (those are stored one by one)."""
    return not any(comment.attachments for comment in source.comments)


@dataclass
class _Planned:
    """One new ticket, mapped: its row, its events in the order they are written, and its identities."""

    ticket: Ticket
    events: list[dict[str, Any]] = field(default_factory=list)  # each event's fields (no model instances)
    # (object type, source id, fingerprint, index of its event or None for the ticket itself)
    identities: list[tuple[str, str, str, int | None]] = field(default_factory=list)


def write_new_tickets(writer: "Writer", batch: list[r.Ticket], tally: Tally) -> None:
    """Write `batch` (tickets new here, without files) with their comments and history; count each."""
    fast = Tally()
    writer.journal.clear()
    try:
        with transaction.atomic():
            planned = [plan for plan in (_plan(writer, source, fast) for source in batch) if plan is not None]
            _insert(writer, planned)
    except (IntegrityError, DataError):
        undo(writer.journal)  # what the caches learnt in the savepoint went with it
        for source in batch:
            writer.careful_ticket(source, None, False, tally)
        return
    writer.journal.clear()
    tally.add(fast)


def _plan(writer: "Writer", source: r.Ticket, tally: Tally) -> _Planned | None:
    """Map one new ticket and compute its clock; count it and its comments. None when the mapping refuses it."""
    try:
        values, history = writer.mapped_ticket(source)
    except ObjectFailed as error:
        tally.count(r.TICKET, "failed", source.source_id, str(error))
        writer.skip_comments(source.comments, tally, f"its ticket {source.source_id} failed")
        return None
    ticket = Ticket(**values, escalation_terms=writer.new_ticket_terms(values["plan"]))
    planned = _Planned(ticket, [writer.received_fields(ticket, source)])
    planned.identities.append((r.TICKET, source.source_id, writer.fingerprint(source.fingerprint_source), None))
    for key, row in writer.derived_events(source, history):
        planned.identities.append((DERIVED_EVENT, key, "", len(planned.events)))
        planned.events.append(row)
    tally.count(r.TICKET, "created", source.source_id)
    for position, comment in enumerate(source.comments):
        fingerprint = writer.fingerprint(comment.raw)
        if position == 0 and source.first_comment_is_description:
            planned.identities.append((r.COMMENT, comment.source_id, fingerprint, 0))  # the reception, written above
        else:
            planned.identities.append((r.COMMENT, comment.source_id, fingerprint, len(planned.events)))
            planned.events.append(writer.comment_fields(comment))
        tally.count(r.COMMENT, "created", comment.source_id)
    _clock(writer, planned)
    return planned


def _timeline(events: list[dict[str, Any]]) -> list[sla.TimelineEntry]:
    """Return the events as `clock.timeline_of` reads them from the database: by time, then as written."""
    ordered = sorted(range(len(events)), key=lambda i: (events[i]["at"], i))
    return [
        sla.TimelineEntry(
            kind=events[i]["kind"],
            at=events[i]["at"],
            by_staff=events[i].get("by_staff", False),
            public=events[i].get("public", True),
            value=events[i].get("to_value", ""),
        )
        for i in ordered
    ]


def _clock(writer: "Writer", planned: _Planned) -> None:
    """Set the ticket's clock as `Writer.finish_ticket` stores it, adding the thresholds already past."""
    ticket = planned.ticket
    targets = writer.targets_of(ticket)
    inputs = clock_inputs(ticket, _timeline(planned.events), targets, writer.calendars)
    apply_clock(ticket, inputs, reached=(), recorded=set())
    crossed = past_thresholds(ticket)
    if crossed:
        planned.events += crossed.values()
        inputs = clock_inputs(ticket, _timeline(planned.events), targets, writer.calendars)
        apply_clock(ticket, inputs, reached=(), recorded=set(crossed))


def _insert(writer: "Writer", planned: list[_Planned]) -> None:
    """Insert the tickets, then their events, then the identities: one statement per table."""
    insert_objects(Ticket, [plan.ticket for plan in planned])
    events = [{**event, "ticket_id": plan.ticket.pk} for plan in planned for event in plan.events]
    event_ids = iter(insert_rows(TicketEvent, events))
    ids = [[next(event_ids) for _ in plan.events] for plan in planned]
    now = timezone.now()
    ticket_type = ContentType.objects.get_for_model(Ticket).pk
    event_type = ContentType.objects.get_for_model(TicketEvent).pk
    rows = [
        (
            writer.system,
            object_type,
            source_id,
            ticket_type if index is None else event_type,
            plan.ticket.pk if index is None else event_ids_of[index],
            fingerprint,
        )
        for plan, event_ids_of in zip(planned, ids, strict=True)
        for object_type, source_id, fingerprint, index in plan.identities
    ]
    insert_identities(writer.run, rows, now)

"""Ticket events for partners' webhooks, written to the outbox in the transaction of the change.

The payload is the API's ticket (what any person of the partner sees), plus what changed: never
an internal note, never staff-only fields.
"""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from programs.models import EventType, WebhookEndpoint
from programs.webhooks.outbox import Event, publish_many
from support.models import Ticket, TicketEvent
from support.tickets.representation import EventSerializer, TicketSerializer

# What a change of status tells: its own type too when it is a resolution.
STATUS_EVENT_TYPES = {"resolved": EventType.TICKET_RESOLVED}
SLA_EVENT_TYPES: dict[str, EventType] = {
    TicketEvent.Kind.SLA_WARNING: EventType.SLA_WARNING,
    TicketEvent.Kind.SLA_BREACH: EventType.SLA_BREACHED,
}


def ticket_payload(ticket: Ticket, now: datetime | None = None, **changes: Any) -> dict[str, Any]:
    """Return the `data` of a ticket event: the ticket as the API shows it to its partner, and the change."""
    shown = TicketSerializer(ticket, context={"now": now or timezone.now(), "absolute": True}).data
    return {"ticket": shown, **changes}


def timeline_entry(event: TicketEvent) -> dict[str, Any]:
    return dict(EventSerializer(event).data)


def publish_ticket_event(ticket: Ticket, event_type: str, **changes: Any) -> int:
    """Write one event about `ticket` for its partner's subscribed endpoints (none: nothing is built)."""
    return publish_many([Event(ticket.partner_id, event_type, lambda: ticket_payload(ticket, **changes))])


def publish_status_change(ticket: Ticket, *, from_status: str, to_status: str) -> int:
    changes: dict[str, Any] = {"from_status": from_status, "to_status": to_status}
    events = [Event(ticket.partner_id, EventType.TICKET_STATUS_CHANGED, lambda: ticket_payload(ticket, **changes))]
    if to_status in STATUS_EVENT_TYPES:
        events.append(
            Event(ticket.partner_id, STATUS_EVENT_TYPES[to_status], lambda: ticket_payload(ticket, **changes))
        )
    return publish_many(events)


def publish_for_tickets(items: Iterable[tuple[int, str, dict[str, Any]]]) -> int:
    """Write events about tickets known by id, (ticket id, event type, changes) each: the sweep's, a batch at a time.

    When no partner has an endpoint this is one query; otherwise the tickets of partners that
    have endpoints are read once, together.
    """
    items = list(items)
    subscribed = set(WebhookEndpoint.objects.values_list("partner_id", flat=True).distinct()) if items else set()
    if not subscribed:
        return 0
    tickets = (
        Ticket.objects.filter(partner_id__in=subscribed)
        .select_related("partner", "submitter", "assignee")
        .in_bulk({pk for pk, _, _ in items})
    )
    now = timezone.now()
    events = [
        Event(tickets[pk].partner_id, event_type, _payload_of(tickets[pk], now, changes))
        for pk, event_type, changes in items
        if pk in tickets
    ]
    return publish_many(events)


def _payload_of(ticket: Ticket, now: datetime, changes: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: ticket_payload(ticket, now, **changes)


def escalation_news(escalated: Iterable[tuple[int, str, str]]) -> list[tuple[int, str, dict[str, Any]]]:
    """Return the events of escalations written, from (ticket id, level name, cause) each."""
    return [(pk, EventType.TICKET_ESCALATED, {"level": level, "cause": cause}) for pk, level, cause in escalated]


def sla_news(crossed: Iterable[tuple[int, str, str]]) -> list[tuple[int, str, dict[str, Any]]]:
    """Return the events of SLA thresholds recorded, from (ticket id, event kind, target) each."""
    return [(pk, SLA_EVENT_TYPES[kind], {"target": target}) for pk, kind, target in crossed]

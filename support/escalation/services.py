"""Escalating tickets: the one function that records an escalation, and the staff and partner ways to ask for one."""

import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from partnerportal.audit import audit_context
from partnerportal.bulk import insert_returning, update_from_values
from programs.models import User
from support.escalation import chat
from support.escalation.routing import Route, Router
from support.models import Escalation, Notification, Ticket, TicketEvent
from support.rules import escalation
from support.tickets.access import require_ticket_partner
from support.tickets.clock import CalendarCache, notify_at, refresh_clock
from support.tickets.webhooks import escalation_news, publish_for_tickets


@dataclass(frozen=True)
class EscalationOrder:
    """Escalate `ticket` (plan loaded) to the level of `rank` of its terms, for `reason`."""

    ticket: Ticket
    rank: int
    cause: str
    reason: str


# An order with its level of the ticket's terms and the route found for it.
Planned = tuple[EscalationOrder, dict[str, Any], Route]

# Plain text, formatted in Python (`escalate`) or spelled in SQL by the sweep (`sql_text`): a sweep
# may escalate thousands of tickets in one batch.
ESCALATION_MAIL = """Ticket #{ticket.pk} ({ticket.severity}) of {partner} is escalated to {level}: {what}.

{ticket.title}
Why: {reason}
How you were chosen: {via}

Open it: {url}
"""
ESCALATION_SUBJECT = "[#{ticket.pk}] {ticket.severity} escalated to {level}: {ticket.title}"
SUBJECT_LENGTH = 200  # Notification.subject
# The timeline event: "{reason} L2 support now with Ada Lovelace."
ESCALATION_EVENT = "{reason} {level} {verb} {who}."


def wording(level: dict[str, Any]) -> tuple[str, str]:
    """Return how the event (verb) and the mail (what) say what the level does with the ticket."""
    if not level["assigns"]:
        return "informed", "you are informed"
    return "now with", "it is yours now"


def sql_text(template: str, fields: Mapping[str, str]) -> str:
    """Return an SQL expression spelling `template` as str.format does, each field given as an SQL expression.

    The set-based sweep words its events and mails in SQL from the same templates as `escalate`.
    The literal parts are fixed text of this module; `%` is doubled for the driver's parameters.
    """
    parts = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        if literal:
            parts.append("'" + literal.replace("'", "''").replace("%", "%%") + "'")
        if field is not None:
            assert not spec and not conversion, "plain fields only"
            parts.append(f"({fields[field]})")
    return " || ".join(parts)


@dataclass(frozen=True)
class LevelRoute:
    """Who takes one level of one set of escalation terms at the router's instant, and the words for it."""

    levels: str  # the terms' levels as the database spells them (jsonb as text): tickets join on it
    rank: int
    name: str
    assigns: bool
    person_id: int | None
    via: str
    who: str
    verb: str
    what: str


def level_routes(levels_texts: Iterable[str], router: Router) -> list[LevelRoute]:
    """Return the route of every level of each set of terms: routing depends on the terms, the level and the instant, not the ticket."""
    routes = []
    for text in levels_texts:
        levels = json.loads(text)
        seen: set[int] = set()
        for level in levels:
            if level["rank"] in seen:  # as `_routed`: the first level of a rank is the one
                continue
            seen.add(level["rank"])
            route = router.route(levels, level["rank"])
            verb, what = wording(level)
            routes.append(
                LevelRoute(
                    levels=text,
                    rank=level["rank"],
                    name=level["name"],
                    assigns=level["assigns"],
                    person_id=route.person_id,
                    via=route.via,
                    who=router.name(route.person_id),
                    verb=verb,
                    what=what,
                )
            )
    return routes


_ESCALATION_COLUMNS = [
    "ticket",
    "level",
    "level_name",
    "cause",
    "reason",
    "at",
    "by",
    "assignee",
    "routed_via",
    "informed_only",
]


def escalate(
    orders: list[EscalationOrder],
    *,
    by: User | None,
    now: datetime,
    router: Router | None = None,
    calendar_cache: CalendarCache | None = None,
) -> list[tuple[int, int, int | None]]:
    """Record each ticket's escalation to a level once, route it, move the assignment, notify, add it to the timeline.

    The one way a ticket is escalated (the sweep on SQLite, staff by hand and partner requests call
    it; the sweep's batch statement on PostgreSQL is its set-based twin, held to it by
    tests/support/test_sweep_python_and_sql.py). A
    unique constraint on (ticket, level) and INSERT … ON CONFLICT DO NOTHING make a repeat a no-op:
    only the escalations really written get their side effects. Returns (ticket id, level, person id)
    of those. Callers hold the tickets' row locks and recompute their steps afterwards.
    """
    router = router or Router(now)
    calendar_cache = {} if calendar_cache is None else calendar_cache
    planned = _routed(orders, router)
    rows = [
        (ticket_id, rank, level["name"], order.cause, order.reason, now, by.pk if by else None, route.person_id,
         route.via, not level["assigns"])
        for (ticket_id, rank), (order, level, route) in planned.items()
    ]  # fmt: skip
    with audit_context(action="escalate", actor=by.pk if by else None):
        written = insert_returning(
            Escalation,
            _ESCALATION_COLUMNS,
            rows,
            conflict="(ticket_id, level) DO NOTHING",
            returning=["ticket", "level"],
        )
        done = [planned[(ticket_id, rank)] for ticket_id, rank in written]
        _escalation_effects(done, by=by, now=now, router=router, calendar_cache=calendar_cache)
    return [(order.ticket.pk, order.rank, route.person_id) for order, _, route in done]


def _routed(orders: list[EscalationOrder], router: Router) -> dict[tuple[int, int], Planned]:
    """Return each order whose level exists in its ticket's terms, with that level and its route, by (ticket, rank)."""
    planned: dict[tuple[int, int], Planned] = {}
    for order in sorted(orders, key=lambda order: (order.ticket.pk, order.rank)):
        levels = order.ticket.escalation_terms.get("levels", [])
        level = next((level for level in levels if level["rank"] == order.rank), None)
        if level is not None:
            planned[(order.ticket.pk, order.rank)] = (order, level, router.route(levels, order.rank))
    return planned


_EVENT_COLUMNS = ["ticket", "kind", "at", "actor", "by_staff", "public", "body", "from_value", "to_value", "sla_target"]
_MAIL_COLUMNS = ["recipient", "ticket", "subject", "body", "send_after", "sent_at", "created_at"]


def _escalation_effects(
    done: list[Planned], *, by: User | None, now: datetime, router: Router, calendar_cache: CalendarCache
) -> None:
    # Rows, not model instances: a sweep batch writes thousands of events and mails at once.
    staff = bool(by and by.is_support_staff)
    actor = by.pk if by else None
    events: list[tuple[Any, ...]] = []
    mails: list[tuple[Any, ...]] = []
    moves: dict[int, tuple[int, int]] = {}  # ticket id -> (assignee id, working level)
    created = timezone.now()
    for order, level, route in done:
        ticket = order.ticket
        verb, _ = wording(level)
        body = ESCALATION_EVENT.format(
            reason=order.reason, level=level["name"], verb=verb, who=router.name(route.person_id)
        )
        # from_value keeps the cause: the timeline says a new ticket was taken up, not escalated.
        event = (ticket.pk, TicketEvent.Kind.ESCALATED, now, actor, staff, True, body, order.cause, level["name"], "")
        events.append(event)
        if level["assigns"] and route.person_id:
            level_now = max(moves.get(ticket.pk, (None, ticket.escalation_level))[1], order.rank)
            moves[ticket.pk] = (route.person_id, level_now)
        if route.person_id:
            mails.append(
                (*_escalation_mail(order, level, route, now=now, calendar_cache=calendar_cache), None, created)
            )
    insert_returning(TicketEvent, _EVENT_COLUMNS, events)
    insert_returning(Notification, _MAIL_COLUMNS, mails)
    update_from_values(Ticket, "pk", ["assignee", "escalation_level"], [(pk, *move) for pk, move in moves.items()])
    for order, _, _ in done:  # keep the callers' instances in step with the rows
        if order.ticket.pk in moves:
            order.ticket.assignee_id, order.ticket.escalation_level = moves[order.ticket.pk]
    publish_for_tickets(escalation_news((order.ticket.pk, level["name"], order.cause) for order, level, _ in done))
    chat.alert_escalations([(order.ticket.pk, order.rank) for order, _, _ in done], now=now)


def _escalation_mail(
    order: EscalationOrder, level: dict[str, Any], route: Route, *, now: datetime, calendar_cache: CalendarCache
) -> tuple[Any, ...]:
    """Return the mail telling the routed person the ticket is theirs now (or that they are informed).

    As the first five values of a row of `_MAIL_COLUMNS`: recipient, ticket, subject, body, send_after.
    """
    ticket = order.ticket
    assert route.person_id is not None  # only routed escalations are mailed
    subject = ESCALATION_SUBJECT.format(ticket=ticket, level=level["name"])[:SUBJECT_LENGTH]
    body = ESCALATION_MAIL.format(
        ticket=ticket,
        partner=ticket.partner.name,
        what=wording(level)[1],
        level=level["name"],
        reason=order.reason,
        via=route.via,
        url=settings.PORTAL_URL + ticket.get_absolute_url(),
    )
    return (route.person_id, ticket.pk, subject, body, notify_at(ticket, now, calendar_cache))


def _escalate_one(ticket: Ticket, *, rank: int, cause: str, reason: str, by: User) -> Ticket:
    now = timezone.now()
    written = escalate([EscalationOrder(ticket, rank, cause, reason)], by=by, now=now)
    if not written:
        raise ValidationError("The ticket has already been escalated to that level.")
    refresh_clock(ticket)
    return ticket


def escalation_options(ticket: Ticket) -> list[dict[str, Any]]:
    """Return the levels of the ticket's terms above the one working on it that it has not reached yet."""
    reached = set(ticket.escalations.values_list("level", flat=True))
    return [
        level
        for level in ticket.escalation_terms.get("levels", [])
        if level["rank"] > ticket.escalation_level and level["rank"] not in reached
    ]


@transaction.atomic
def escalate_by_hand(ticket: Ticket, *, rank: int, reason: str, by: User) -> Ticket:
    """Escalate a ticket to a level now, as support staff, with a reason."""
    if not by.is_support_staff:
        raise PermissionDenied("Only our support staff escalate by hand.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the ticket is escalated."})
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("plan__calendar").get(pk=ticket.pk)
    if not ticket.is_open:
        raise ValidationError("A resolved or closed ticket is not escalated; reopen it first.")
    if rank not in {level["rank"] for level in escalation_options(ticket)}:
        raise ValidationError({"rank": "Choose a level above the one working on the ticket that it has not reached."})
    return _escalate_one(ticket, rank=rank, cause=Escalation.Cause.MANUAL, reason=reason.strip(), by=by)


def partner_escalation_refusal(ticket: Ticket, *, executive: bool = False) -> str:
    """Return why the partner cannot ask for (executive) escalation of `ticket` now, or "" when it can."""
    plan = ticket.plan
    if not plan.includes_escalation_requests:
        return f"Your {plan.name} plan does not include escalation requests; your partner manager can tell you which plans do."
    if executive and not plan.includes_executive_escalation:
        return f"Executive escalation is not part of your {plan.name} plan."
    if not ticket.is_open:
        return "The ticket is resolved: reopen it if the problem is back."
    if _partner_target(ticket, executive=executive) is None:
        if executive:
            return "The executive level has this ticket already."
        return "The ticket is already at the highest level your plan lets you ask for."
    return ""


def _partner_target(ticket: Ticket, *, executive: bool) -> dict[str, Any] | None:
    # Escalating is going past first-line support: the level that takes new tickets is never the target.
    options = [
        level
        for level in escalation_options(ticket)
        if level.get("executive", False) == executive and level["rule"] != escalation.ENTRY
    ]
    return options[0] if options else None


@transaction.atomic
def request_escalation(ticket: Ticket, *, by: User, reason: str, executive: bool = False) -> Ticket:
    """Escalate a ticket at its partner's request, where the partner's plan includes it."""
    require_ticket_partner(ticket, by)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the ticket needs escalating: the impact, what changed."})
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("plan__calendar").get(pk=ticket.pk)
    refusal = partner_escalation_refusal(ticket, executive=executive)
    if refusal:
        raise ValidationError(refusal)
    level = _partner_target(ticket, executive=executive)
    assert level is not None  # there is one: no refusal above
    reason = f"Requested by {by.get_full_name()}: {reason.strip()}"
    return _escalate_one(ticket, rank=level["rank"], cause=Escalation.Cause.PARTNER, reason=reason, by=by)

"""A ticket's SLA clock: computed from its timeline, plan and calendar, and stored on the ticket."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from support.models import SeverityTarget, SupportPlan, Ticket, TicketEvent
from support.rules import businesstime, escalation, sla

# The key of a ticket's escalation terms saying from when its escalation steps count (imports).
ESCALATES_FROM = "escalates_from"

# The pure calendars already built, by (calendar id, year): a sweep batch builds each once.
CalendarCache = dict[tuple[int, int], businesstime.BusinessCalendar]


def sla_targets_of(ticket: Ticket) -> sla.Targets:
    """Return the response, resolution and update targets of the ticket's plan for its severity."""
    target = SeverityTarget.objects.filter(plan=ticket.plan_id, severity=ticket.severity).first()
    if target is None:
        raise ValidationError(
            f"The support plan {ticket.plan} has no {ticket.severity} target yet. Ask your partner manager."
        )
    return sla.Targets(
        first_response=timedelta(minutes=target.first_response_minutes),
        resolution=timedelta(minutes=target.resolution_minutes),
        warning_ratio=float(ticket.plan.warning_ratio),
        update=timedelta(minutes=target.update_minutes) if target.update_minutes else None,
    )


def timeline_of(ticket: Ticket) -> list[sla.TimelineEntry]:
    """Return the ticket's events as the pure SLA rules read them, oldest first."""
    return [
        sla.TimelineEntry(kind=kind, at=at, by_staff=by_staff, public=public, value=to_value)
        for kind, at, by_staff, public, to_value in ticket.events.order_by("at", "pk").values_list(
            "kind", "at", "by_staff", "public", "to_value"
        )
    ]


def business_calendar(
    plan: SupportPlan, around: datetime, cache: CalendarCache | None = None
) -> businesstime.BusinessCalendar:
    """Return the pure calendar of `plan` for the years around `around` (cached per plan and year)."""
    cache = {} if cache is None else cache
    key = (plan.calendar_id, around.year)
    if key not in cache:
        cache[key] = plan.calendar.to_businesstime(range(around.year - 1, around.year + 3))
    return cache[key]


@dataclass(frozen=True)
class ClockInputs:
    clock: sla.Clock
    timeline: list[sla.TimelineEntry]
    targets: sla.Targets
    calendar: businesstime.BusinessCalendar


def _clock_inputs(ticket: Ticket, calendar_cache: CalendarCache | None = None) -> ClockInputs:
    return clock_inputs(ticket, timeline_of(ticket), sla_targets_of(ticket), calendar_cache)


def clock_inputs(
    ticket: Ticket, timeline: list[sla.TimelineEntry], targets: sla.Targets, calendar_cache: CalendarCache | None
) -> ClockInputs:
    """Return the clock of `ticket` for this timeline and these targets, with what it was computed from."""
    calendar = business_calendar(ticket.plan, ticket.received_at, calendar_cache)
    clock = sla.compute_clock(received_at=ticket.received_at, timeline=timeline, targets=targets, calendar=calendar)
    return ClockInputs(clock, timeline, targets, calendar)


def clock_for(ticket: Ticket, calendar_cache: CalendarCache | None = None) -> sla.Clock:
    """Return the clock `ticket`'s events, plan and calendar give now."""
    return _clock_inputs(ticket, calendar_cache).clock


def escalation_steps(
    ticket: Ticket, inputs: ClockInputs, reached: Iterable[int] | None = None
) -> list[escalation.Step]:
    """Return the escalation steps still to come for `ticket` (its policy snapshot and state).

    `reached`: the levels its escalations reached (read from them when not given).
    """
    terms = escalation.Terms.from_snapshot(ticket.escalation_terms)
    if not terms.levels:
        return []
    snapshot = escalation.TicketSnapshot(
        received_at=ticket.received_at,
        severity=ticket.severity,
        category=ticket.category,
        is_open=ticket.is_open,
        timeline=tuple(inputs.timeline),
        severity_changes=tuple(
            (entry.at, entry.value) for entry in inputs.timeline if entry.kind == TicketEvent.Kind.SEVERITY
        ),
    )
    steps = escalation.steps(
        terms,
        snapshot,
        clock=inputs.clock,
        targets=inputs.targets,
        calendar=inputs.calendar,
        reached=ticket.escalations.values_list("level", flat=True) if reached is None else reached,
        working_level=ticket.escalation_level,
    )
    # A ticket imported from another helpdesk escalates from its import on: the steps its past
    # would have taken there are history, not pages to send now (support.imports).
    escalates_from = ticket.escalation_terms.get(ESCALATES_FROM)
    if escalates_from:
        start = datetime.fromisoformat(escalates_from)
        steps = [step for step in steps if step.at >= start]
    return steps


def refresh_clock(ticket: Ticket, calendar_cache: CalendarCache | None = None) -> dict[str, tuple[object, object]]:
    """Recompute and store the ticket's SLA clock and escalation steps; return the fields that moved (old, new)."""
    inputs = _clock_inputs(ticket, calendar_cache)
    before = {name: getattr(ticket, name) for name in _deadline_fields(inputs.clock)}
    recorded = set(
        ticket.events.filter(kind__in=[TicketEvent.Kind.SLA_WARNING, TicketEvent.Kind.SLA_BREACH]).values_list(
            "kind", "sla_target", "to_value"
        )
    )
    stored = apply_clock(ticket, inputs, reached=None, recorded=recorded)
    Ticket.objects.filter(pk=ticket.pk).update(**stored)
    return {name: (old, stored[name]) for name, old in before.items() if old != stored[name]}


def apply_clock(
    ticket: Ticket, inputs: ClockInputs, *, reached: Iterable[int] | None, recorded: set[tuple[str, str, str]]
) -> dict[str, object]:
    """Set the ticket's stored clock, reporting and escalation columns for `inputs`; return them by name.

    `recorded`: the (kind, target, key) of its SLA warnings and breaches already on its timeline;
    `reached`: the levels its escalations reached (None: read them). Writes nothing: a caller that
    has not inserted the ticket yet (an import) sets them before it does.
    """
    deadlines = _deadline_fields(inputs.clock)
    for name, value in deadlines.items():
        setattr(ticket, name, value)
    steps = escalation_steps(ticket, inputs, reached)
    derived = {
        **_reporting_fields(ticket, inputs),
        "escalation_steps": [step.as_json() for step in steps],
        "next_sla_check_at": sla.next_check(ticket, recorded, steps),
    }
    for name, value in derived.items():
        setattr(ticket, name, value)
    ticket.next_due_at = ticket.compute_next_due()
    return {**deadlines, **derived, "next_due_at": ticket.next_due_at}


def past_thresholds(ticket: Ticket) -> dict[tuple[str, str, str], dict[str, object]]:
    """Return the timeline-event fields of the SLA warnings and breaches already past on the ticket's stored clock.

    Keyed by (kind, target, key), each once (the timeline holds each once): an imported ticket records its past silently.
    """
    now = timezone.now()
    crossed: dict[tuple[str, str, str], dict[str, object]] = {}
    for at, kind, target, key in sla.thresholds(ticket):
        if at <= now:
            crossed.setdefault(
                (kind, target, key), {"kind": kind, "sla_target": target, "to_value": key, "at": at, "public": False}
            )
    return crossed


def _deadline_fields(clock: sla.Clock) -> dict[str, object]:
    """Return the ticket's stored clock columns for `clock`."""
    return {
        "first_response_at": clock.first_response_at,
        "first_response_due": clock.first_response_due,
        "first_response_warn_at": clock.first_response_warn_at,
        "resolution_due": clock.resolution_due,
        "resolution_warn_at": clock.resolution_warn_at,
        "paused_seconds": int(clock.paused.total_seconds()),
        "update_due": clock.update_due,
        "update_warn_at": clock.update_warn_at,
    }


def _reporting_fields(ticket: Ticket, inputs: ClockInputs) -> dict[str, object]:
    """Return the ticket's stored reporting columns: business time to answer and resolve, reopened, FCR."""
    outcome = sla.outcome(
        received_at=ticket.received_at, timeline=inputs.timeline, clock=inputs.clock, calendar=inputs.calendar
    )
    return {
        "first_response_business_seconds": _seconds(outcome.first_response),
        "resolution_business_seconds": _seconds(outcome.resolution),
        "reopened": outcome.reopened,
        "first_contact_resolution": outcome.first_contact_resolution,
    }


def _seconds(duration: timedelta | None) -> int | None:
    return None if duration is None else int(duration.total_seconds())


def notify_at(ticket: Ticket, now: datetime, calendar_cache: CalendarCache | None = None) -> datetime:
    """Return when mail about `ticket` may go out: at once for P1/P2, else within the plan's support hours."""
    if ticket.severity in escalation.URGENT:
        return now
    return support_opening(ticket.plan, now, calendar_cache)


def support_opening(plan: SupportPlan, now: datetime, calendar_cache: CalendarCache | None = None) -> datetime:
    """Return when mail about a P3/P4 ticket on `plan` may go out: now in support hours, else their next opening."""
    return businesstime.next_opening(business_calendar(plan, now, calendar_cache), now)

"""SLA clocks, derived from a ticket's timeline so they can always be recomputed.

Semantics (docs/sla.md says the same for people):
- Both clocks start when the ticket is received; outside support hours they start at the next
  opening. Targets are business time in the calendar of the ticket's plan.
- First response is the first public, human action of our staff on the ticket: acknowledging it,
  starting work, asking the partner for information, resolving, or a public reply. The automatic
  acknowledgement email does not count.
- Waiting on partner pauses the resolution clock; the business time spent paused extends the
  deadline. Between a resolution and a reopening the clock is paused too.
- A severity change re-targets both clocks from the original received time.
- A warning is due at `warning_ratio` of a target; warnings and breaches are recorded once.
- P1/P2 status update cadence: once we have answered, each public update from us (or the partner's
  reply that ends a wait) starts the next interval; the update is due one cadence of business time
  later. Not while waiting on the partner, not once resolved. A missed update is recorded once per
  interval (the events carry the missed due time).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from support.rules import businesstime
from support.rules.ticket_states import EventKind as Kind
from support.rules.ticket_states import SlaTarget

if TYPE_CHECKING:
    from support.rules.escalation import Step

FIRST_RESPONSE_KINDS = {Kind.ACKNOWLEDGED, Kind.STARTED, Kind.WAITING, Kind.RESOLVED, Kind.COMMENT}
PAUSE_KINDS = {Kind.WAITING, Kind.RESOLVED}
RUN_KINDS = {Kind.RESUMED, Kind.STARTED, Kind.REOPENED, Kind.ACKNOWLEDGED}
RESUME_KINDS = {Kind.RESUMED, Kind.REOPENED}


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    at: datetime
    by_staff: bool = False
    public: bool = True
    value: str = ""  # the event's new value (a severity change's new severity)


@dataclass(frozen=True)
class Targets:
    first_response: timedelta
    resolution: timedelta
    warning_ratio: float = 0.75
    update: timedelta | None = None  # P1/P2 status update cadence


@dataclass(frozen=True)
class Clock:
    first_response_at: datetime | None
    first_response_due: datetime
    first_response_warn_at: datetime
    resolution_due: datetime | None  # None while paused
    resolution_warn_at: datetime | None
    paused: timedelta
    is_paused: bool
    update_due: datetime | None = None
    update_warn_at: datetime | None = None


def first_response(timeline: list[TimelineEntry]) -> datetime | None:
    """Return when staff first answered in a way the partner sees, or None."""
    for entry in timeline:
        if entry.by_staff and entry.public and entry.kind in FIRST_RESPONSE_KINDS:
            return entry.at
    return None


def last_update(timeline: list[TimelineEntry]) -> datetime:
    """Return when the current status update interval began: our last public step, or the partner's reply."""
    return max(
        entry.at
        for entry in timeline
        if (entry.by_staff and entry.public and entry.kind in FIRST_RESPONSE_KINDS) or entry.kind in RESUME_KINDS
    )


def pause_intervals(timeline: list[TimelineEntry]) -> tuple[list[tuple[datetime, datetime]], datetime | None]:
    """Return the closed pause intervals and the start of a pause still running (or None)."""
    closed, paused_since = [], None
    for entry in timeline:
        if entry.kind in PAUSE_KINDS and paused_since is None:
            paused_since = entry.at
        elif entry.kind == Kind.RESOLVED and paused_since is not None:
            # Resolved while waiting on the partner: the wait counts as paused up to the resolution.
            closed.append((paused_since, entry.at))
            paused_since = entry.at
        elif entry.kind in RUN_KINDS and paused_since is not None:
            closed.append((paused_since, entry.at))
            paused_since = None
    return closed, paused_since


def compute_clock(
    *, received_at: datetime, timeline: list[TimelineEntry], targets: Targets, calendar: businesstime.BusinessCalendar
) -> Clock:
    """Return the ticket's SLA clock for its timeline, targets and business calendar."""
    closed_pauses, paused_since = pause_intervals(timeline)
    paused = sum(
        (businesstime.business_time_between(calendar, start, end) for start, end in closed_pauses), timedelta()
    )
    ratio = targets.warning_ratio

    def at(duration: timedelta) -> datetime:
        return businesstime.add_business_time(calendar, received_at, duration)

    resolved = _resolved_for_good(timeline)
    is_paused = paused_since is not None and not resolved
    answered = first_response(timeline)
    update_due = update_warn_at = None
    if targets.update and answered and paused_since is None and not resolved:
        last = last_update(timeline)
        update_due = businesstime.add_business_time(calendar, last, targets.update)
        update_warn_at = businesstime.add_business_time(calendar, last, targets.update * ratio)
    return Clock(
        update_due=update_due,
        update_warn_at=update_warn_at,
        first_response_at=answered,
        first_response_due=at(targets.first_response),
        first_response_warn_at=at(targets.first_response * ratio),
        resolution_due=None if is_paused else at(targets.resolution + paused),
        resolution_warn_at=None if is_paused else at(targets.resolution * ratio + paused),
        paused=paused,
        is_paused=is_paused,
    )


def _resolved_for_good(timeline: list[TimelineEntry]) -> bool:
    # A resolved (or closed) ticket keeps the deadline it was resolved against, for reporting.
    for entry in reversed(timeline):
        if entry.kind in {Kind.RESOLVED, Kind.CLOSED}:
            return True
        if entry.kind in RUN_KINDS or entry.kind == Kind.WAITING:
            return False
    return False


@dataclass(frozen=True)
class Outcome:
    """What a ticket's timeline says for reporting (support.insight.metrics)."""

    first_response: timedelta | None  # business time from reception to our first response
    resolution: timedelta | None  # business time from reception to the resolution, paused time left out
    reopened: bool
    first_contact_resolution: bool


def outcome(
    *, received_at: datetime, timeline: list[TimelineEntry], clock: Clock, calendar: businesstime.BusinessCalendar
) -> Outcome:
    """Return the reporting facts of a ticket.

    First-contact resolution: resolved with at most one public reply from us, without asking the
    partner for anything (no wait) and never reopened.
    """
    first = None
    if clock.first_response_at is not None:
        first = businesstime.business_time_between(calendar, received_at, clock.first_response_at)
    resolved_at = _resolution_time(timeline)
    resolution = None
    if resolved_at is not None:
        resolution = max(
            businesstime.business_time_between(calendar, received_at, resolved_at) - clock.paused, timedelta()
        )
    reopened = any(entry.kind == Kind.REOPENED for entry in timeline)
    waited = any(entry.kind == Kind.WAITING for entry in timeline)
    replies = sum(1 for entry in timeline if entry.kind == Kind.COMMENT and entry.by_staff and entry.public)
    fcr = resolved_at is not None and not reopened and not waited and replies <= 1
    return Outcome(first, resolution, reopened, fcr)


def _resolution_time(timeline: list[TimelineEntry]) -> datetime | None:
    if not _resolved_for_good(timeline):
        return None
    return max((entry.at for entry in timeline if entry.kind == Kind.RESOLVED), default=None)


def cadence_key(due: datetime) -> str:
    """Return how a missed update interval is named in its events: its due time, in UTC."""
    return due.astimezone(UTC).isoformat(timespec="seconds")


class StoredClock(Protocol):
    """The SLA deadlines stored on a ticket (a Ticket row: this module has no Django)."""

    @property
    def is_open(self) -> bool: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def first_response_warn_at(self) -> datetime | None: ...
    @property
    def first_response_due(self) -> datetime | None: ...
    @property
    def resolution_warn_at(self) -> datetime | None: ...
    @property
    def resolution_due(self) -> datetime | None: ...
    @property
    def update_warn_at(self) -> datetime | None: ...
    @property
    def update_due(self) -> datetime | None: ...


def thresholds(ticket: StoredClock) -> list[tuple[datetime, str, str, str]]:
    """Return (instant, event kind, target, key) for every SLA threshold that still matters for `ticket`."""
    points: list[tuple[datetime | None, str, str, str]] = []
    if ticket.first_response_at is None and ticket.is_open:
        points += [
            (ticket.first_response_warn_at, Kind.SLA_WARNING, SlaTarget.FIRST_RESPONSE, ""),
            (ticket.first_response_due, Kind.SLA_BREACH, SlaTarget.FIRST_RESPONSE, ""),
        ]
    if ticket.is_open and ticket.resolution_due is not None:
        points += [
            (ticket.resolution_warn_at, Kind.SLA_WARNING, SlaTarget.RESOLUTION, ""),
            (ticket.resolution_due, Kind.SLA_BREACH, SlaTarget.RESOLUTION, ""),
        ]
    if ticket.is_open and ticket.update_due is not None:
        key = cadence_key(ticket.update_due)
        points += [
            (ticket.update_warn_at, Kind.SLA_WARNING, SlaTarget.UPDATE, key),
            (ticket.update_due, Kind.SLA_BREACH, SlaTarget.UPDATE, key),
        ]
    return sorted((instant, kind, target, key) for instant, kind, target, key in points if instant is not None)


def next_check(
    ticket: StoredClock, recorded: set[tuple[str, str, str]], steps: Iterable["Step"] = ()
) -> datetime | None:
    """Return the earliest SLA threshold not yet recorded or escalation step still to come, or None."""
    pending = [instant for instant, kind, target, key in thresholds(ticket) if (kind, target, key) not in recorded]
    pending += [step.at for step in steps]
    return min(pending) if pending else None


# The SLA states, in the order they win: the one definition behind Ticket.sla_state, its query form
# TicketQuerySet.in_sla_state, the list filters and the API (docs/sla.md says the same for people).
SLA_STATES = ("breached", "warning", "paused", "met", "ok")


def sla_state(
    now: datetime,
    *,
    is_open: bool,
    waiting_on_partner: bool,
    first_response_at: datetime | None,
    first_response_due: datetime | None,
    first_response_warn_at: datetime | None,
    resolved_at: datetime | None,
    resolution_due: datetime | None,
    resolution_warn_at: datetime | None,
    update_warn_at: datetime | None,
) -> str:
    """Return the SLA state at `now`, one of SLA_STATES.

    - breached: the first response came (or, unanswered, `now` is) after its deadline, or the
      resolution came (or, unresolved, `now` is) after its deadline; resolved and closed tickets too.
    - met: resolved or closed without a breach.
    - paused: open, waiting on the partner, not breached.
    - warning: open and running, a warning instant passed: resolution, update cadence, or first
      response while unanswered.
    - ok: open and running, nothing of the above.
    """
    first_response_late = first_response_due is not None and (first_response_at or now) > first_response_due
    resolution_late = resolution_due is not None and (resolved_at or now) > resolution_due
    if first_response_late or resolution_late:
        return "breached"
    if not is_open:
        return "met"
    if waiting_on_partner:
        return "paused"
    warnings = [resolution_warn_at, update_warn_at, first_response_warn_at if first_response_at is None else None]
    if any(at is not None and now >= at for at in warnings):
        return "warning"
    return "ok"

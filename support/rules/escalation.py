"""When a ticket reaches each escalation level. Pure: no Django, plain values in and out.

The terms are the plan's escalation policy as it was when the ticket was opened (a snapshot on the
ticket). From them and the ticket's state this module lists the steps still to come, each with the
instant it is due, the level, the cause and the reason in words. The SLA sweep performs the steps
whose instant has passed; a ticket's steps are recomputed whenever its clocks are.

Semantics:
- Level 1 ("takes new tickets") is paged when the ticket arrives if it is P1/P2, whatever the hour;
  a P3/P4 ticket waits for the next opening of the plan's business hours.
- A trigger (P1, P2, security or privacy, data integrity, reopened twice) sends the ticket to its
  level from the moment the condition holds (reception, the severity change, the second reopening).
- A timeout level is due after its delay, in business time from reception: "no first response"
  while nobody has answered, "not resolved" while the ticket is open and its clock runs (time spent
  waiting on the partner extends it, as for the resolution target), "update overdue" when a P1/P2
  status update is missed. A delay is business minutes or a multiple of the severity's target.
- Tickets only go up: a step for a level at or below the one working on the ticket, or for a
  level already reached, is dropped.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from support.rules import businesstime
from support.rules.sla import Clock, Targets, TimelineEntry
from support.rules.ticket_states import EventKind

ENTRY, NO_RESPONSE, NO_RESOLUTION, NO_UPDATE = "entry", "no_response", "no_resolution", "no_update"
URGENT = {"P1", "P2"}


@dataclass(frozen=True)
class Level:
    rank: int
    name: str
    rule: str
    after_minutes: int | None = None
    after_factor: float | None = None
    assigns: bool = True


@dataclass(frozen=True)
class Terms:
    levels: tuple[Level, ...] = ()
    triggers: tuple[tuple[str, int], ...] = ()  # (condition, level rank)

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> "Terms":
        levels = tuple(
            Level(
                rank=level["rank"],
                name=level["name"],
                rule=level["rule"],
                after_minutes=level.get("after_minutes"),
                after_factor=level.get("after_factor"),
                assigns=level.get("assigns", True),
            )
            for level in snapshot.get("levels", [])
        )
        return cls(levels=levels, triggers=tuple((t["condition"], t["rank"]) for t in snapshot.get("triggers", [])))

    def level(self, rank: int) -> Level | None:
        return next((level for level in self.levels if level.rank == rank), None)


@dataclass(frozen=True, order=True)
class Step:
    at: datetime
    rank: int
    cause: str
    reason: str

    def as_json(self) -> list[str | int]:
        return [self.at.astimezone(UTC).isoformat(), self.rank, self.cause, self.reason]

    @classmethod
    def from_json(cls, raw: list[Any]) -> "Step":
        return cls(datetime.fromisoformat(raw[0]), raw[1], raw[2], raw[3])


@dataclass(frozen=True)
class TicketSnapshot:
    """What the steps depend on, besides the clock."""

    received_at: datetime
    severity: str
    category: str
    is_open: bool
    timeline: tuple[TimelineEntry, ...]
    severity_changes: tuple[tuple[datetime, str], ...] = ()  # (at, new severity)


def steps(
    terms: Terms,
    ticket: TicketSnapshot,
    *,
    clock: Clock,
    targets: Targets,
    calendar: businesstime.BusinessCalendar,
    reached: Iterable[int] = (),
    working_level: int = 0,
) -> list[Step]:
    """Return the escalation steps still to come for a ticket, earliest first."""
    if not ticket.is_open or not terms.levels:
        return []
    candidates = [
        *_entry(terms, ticket, calendar),
        *_triggers(terms, ticket),
        *_timeouts(terms, ticket, clock, targets, calendar),
    ]
    done = set(reached)
    # One step per level: the earliest reason to go there.
    earliest: dict[int, Step] = {}
    for step in sorted(candidates):
        if step.rank not in done and step.rank > working_level and step.rank not in earliest:
            earliest[step.rank] = step
    return sorted(earliest.values())


def _entry(terms: Terms, ticket: TicketSnapshot, calendar: businesstime.BusinessCalendar) -> list[Step]:
    level = next((level for level in terms.levels if level.rule == ENTRY), None)
    if level is None:
        return []
    # Words a partner reads on the timeline too: what happened to their ticket, plainly.
    reopened = any(entry.kind == EventKind.REOPENED for entry in ticket.timeline)
    what = f"{'Reopened' if reopened else 'New'} {ticket.severity} ticket"
    if ticket.severity in URGENT:
        return [Step(ticket.received_at, level.rank, "entry", f"{what}: urgent, so taken up at once, at any hour.")]
    opening = businesstime.next_opening(calendar, ticket.received_at)
    reason = what + (
        " (received outside support hours: taken up when support opens)." if opening > ticket.received_at else "."
    )
    return [Step(opening, level.rank, "entry", reason)]


TRIGGER_WORDS = {
    "p1": "Severity P1",
    "p2": "Severity P2",
    "security": "Security or privacy event",
    "data_integrity": "Data integrity issue",
    "reopened_twice": "Reopened twice",
}


def _triggers(terms: Terms, ticket: TicketSnapshot) -> list[Step]:
    found = []
    for condition, rank in terms.triggers:
        at = _trigger_instant(condition, ticket)
        if at is not None and terms.level(rank) is not None:
            found.append(Step(at, rank, "trigger", f"{TRIGGER_WORDS.get(condition, condition)}."))
    return found


def _trigger_instant(condition: str, ticket: TicketSnapshot) -> datetime | None:
    if condition in ("p1", "p2"):
        wanted = condition.upper()
        if ticket.severity != wanted:
            return None
        changes = [at for at, severity in ticket.severity_changes if severity == wanted]
        return changes[-1] if changes else ticket.received_at
    if condition in ("security", "data_integrity"):
        return ticket.received_at if ticket.category == condition else None
    if condition == "reopened_twice":
        reopenings = sorted(entry.at for entry in ticket.timeline if entry.kind == EventKind.REOPENED)
        return reopenings[1] if len(reopenings) >= 2 else None
    return None


def _timeouts(
    terms: Terms, ticket: TicketSnapshot, clock: Clock, targets: Targets, calendar: businesstime.BusinessCalendar
) -> list[Step]:
    found = []
    for level in terms.levels:
        if level.rule == NO_RESPONSE and clock.first_response_at is None:
            delay = _delay(level, targets.first_response)
            at = businesstime.add_business_time(calendar, ticket.received_at, delay)
            found.append(Step(at, level.rank, "timeout", f"No first response within {_words(delay)} of support time."))
        elif level.rule == NO_RESOLUTION and not clock.is_paused and clock.resolution_due is not None:
            delay = _delay(level, targets.resolution)
            at = businesstime.add_business_time(calendar, ticket.received_at, delay + clock.paused)
            found.append(Step(at, level.rank, "timeout", f"Not resolved within {_words(delay)} of support time."))
        elif level.rule == NO_UPDATE and clock.update_due is not None:
            found.append(Step(clock.update_due, level.rank, "timeout", "The status update was not given on time."))
    return found


def _delay(level: Level, target: timedelta) -> timedelta:
    if level.after_minutes is not None:
        return timedelta(minutes=level.after_minutes)
    return target * float(level.after_factor or 1)


def _words(delay: timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def due(steps_: Iterable[Step], now: datetime, terms: Terms, working_level: int) -> list[Step]:
    """Return the steps whose instant has come, in order, without those an earlier one made moot.

    When several come due at once (a sweep that was down, a batch of them), they happen as they
    would have one by one: a level reached at 10:00 makes a lower level's 14:00 timeout moot.
    """
    performed = []
    for step in sorted(step for step in steps_ if step.at <= now):
        if step.rank <= working_level:
            continue
        performed.append(step)
        level = terms.level(step.rank)
        if level is not None and level.assigns:
            working_level = step.rank
    return performed

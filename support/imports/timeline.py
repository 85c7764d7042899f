"""An imported ticket's status history as our timeline events. Pure: no Django, plain values in and out.

The source's status changes (already in our words) become the events our lifecycle would have
written for them, so the SLA rules read an imported ticket as they read one of ours: a wait
pauses the clock, a resolution stops it, a reopening starts it again.
"""

from dataclasses import dataclass
from datetime import datetime

from support.rules.ticket_states import FINISHED_STATUSES, Status
from support.rules.ticket_states import EventKind as Kind


@dataclass(frozen=True)
class Change:
    at: datetime
    actor_id: str  # the source person who made it; empty for the system
    new: str  # our status


@dataclass(frozen=True)
class StatusEvent:
    at: datetime
    actor_id: str
    kind: str
    old: str
    new: str


def _steps(old: str, new: str) -> list[tuple[str, str, str]]:
    """Return the (kind, from, to) events that take a ticket from status `old` to `new`."""
    if new == old or new == Status.RECEIVED:
        return []
    finished = old in FINISHED_STATUSES
    if new in (Status.ACKNOWLEDGED, Status.IN_PROGRESS):
        if finished:
            return [(Kind.REOPENED, old, Status.IN_PROGRESS)]
        if old == Status.WAITING_ON_PARTNER:
            return [(Kind.RESUMED, old, Status.IN_PROGRESS)]
        if old == Status.RECEIVED and new == Status.ACKNOWLEDGED:
            return [(Kind.ACKNOWLEDGED, old, new)]
        if new == Status.IN_PROGRESS:
            return [(Kind.STARTED, old, new)]
        return []  # acknowledging a ticket already worked on is no step
    if new == Status.WAITING_ON_PARTNER:
        reopen = [(Kind.REOPENED, old, Status.IN_PROGRESS)] if finished else []
        return [*reopen, (Kind.WAITING, Status.IN_PROGRESS if finished else old, new)]
    if new == Status.RESOLVED:
        if old == Status.CLOSED:
            return [(Kind.REOPENED, old, Status.IN_PROGRESS), (Kind.RESOLVED, Status.IN_PROGRESS, new)]
        return [(Kind.RESOLVED, old, new)]
    if new == Status.CLOSED:
        resolve = [] if old == Status.RESOLVED else [(Kind.RESOLVED, old, Status.RESOLVED)]
        return [*resolve, (Kind.CLOSED, Status.RESOLVED, new)]
    raise ValueError(f"Unknown status {new!r}.")


def _landing(old: str, new: str) -> str:
    """Return the status the events for old → new leave the ticket in (acknowledging after work is work)."""
    steps = _steps(old, new)
    return steps[-1][2] if steps else old


def status_events(changes: list[Change], *, final: str, final_at: datetime, final_actor_id: str) -> list[StatusEvent]:
    """Return the events for `changes` (oldest first), ending in the ticket's status now, `final`.

    When the changes do not end in `final` (an export without audits has none), one more step
    takes the ticket there at `final_at` by `final_actor_id`.
    """
    events: list[StatusEvent] = []
    current: str = Status.RECEIVED
    for change in changes:
        for kind, old, new in _steps(current, change.new):
            events.append(StatusEvent(change.at, change.actor_id, kind, old, new))
        current = _landing(current, change.new)
    if current != final:
        for kind, old, new in _steps(current, final):
            events.append(StatusEvent(final_at, final_actor_id, kind, old, new))
    return events

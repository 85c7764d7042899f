"""On-call schedules: who is on call at an instant, and over a stretch of time. Pure Python, no Django.

Semantics
---------
A schedule has an IANA time zone, layers (rotations) and overrides. People are opaque hashable values;
``None`` is not a person, it is the answer "nobody is on call".

- A rotation hands off on the local wall clock of the schedule's zone, whatever DST does: handoff ``k``
  happens at local date ``start + k * length_days`` days, at local time ``handoff``. Shift ``k`` belongs
  to ``people[k % len(people)]`` and covers the instants from handoff ``k`` (inclusive) to handoff
  ``k + 1`` (exclusive). Before handoff 0 the rotation has nobody on call.
- A handoff wall time skipped by a spring-forward gap happens at the first instant after the gap, the
  instant the clock jumps past it (02:30 on the New York spring-forward night is 03:00 EDT). A wall time
  repeated when clocks fall back happens at its first occurrence (fold=0).
- A rotation's optional daily window restricts it to instants whose local wall-clock time lies in
  ``[window_start, window_end)``; ``window_end <= window_start`` runs past midnight, ``window_end ==
  00:00`` means "until midnight", and ``window_start == window_end`` means all day. The window only
  masks the rotation; handoffs happen on their own schedule, inside or outside the window. Because
  the rule is about the wall clock, a window loses the hour a spring-forward gap skips and counts the
  hour repeated by a fall-back twice.
- At an instant, the last layer that has someone on call wins (PagerDuty semantics): a layer restricted
  to a window shows the layers below it outside that window. An override beats every layer; when
  overrides overlap, the one listed last wins. Overrides are half-open, ``[start, end)``.

Every datetime passed in must be timezone-aware (naive ones raise ValueError); every datetime returned
is in UTC.

How it is computed: the shift holding an instant follows arithmetically from its local date (the handoff
dates are evenly spaced), corrected by one when DST moves the instant across a handoff, so asking costs
the same a day or ten years after the rotation's start. A timeline is cut at every instant where an
answer may change (handoffs, override ends, the instants the wall clock crosses a window edge, and the
zone's offset changes, found by probing and bisecting) and each piece asks who is on call.
"""

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from support.rules import zones

Person = Hashable
Shift = tuple[datetime, datetime, Person | None]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Rotation:
    """One layer: people taking turns, handing off every `length_days` at a local wall-clock time."""

    people: tuple[Person, ...]  # in turn order; shift 0 is people[0]
    start: date  # local date of the first handoff (handoff 0)
    handoff: time  # local wall-clock time of every handoff
    length_days: int = 7
    window_start: time | None = None  # optional daily restriction, local wall-clock; both or neither
    window_end: time | None = None  # end <= start runs past midnight; end == 00:00 means until midnight

    def __post_init__(self) -> None:
        # Accept any iterable but store a tuple, so rotations stay hashable and frozen.
        object.__setattr__(self, "people", tuple(self.people))
        if not self.people:
            raise ValueError("A rotation needs at least one person.")
        for person in self.people:
            _check_person(person)
        # A datetime is a date too, but "the local date of the first handoff" must not carry a time.
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise ValueError(f"A rotation's start must be a datetime.date, not {self.start!r}.")
        if isinstance(self.length_days, bool) or not isinstance(self.length_days, int) or self.length_days < 1:
            raise ValueError(f"A rotation's length_days must be a whole number of days >= 1, not {self.length_days!r}.")
        _check_wall_clock(self.handoff, "handoff")
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("A rotation's window needs both a start and an end, or neither (all day).")
        if self.window_start is not None:
            _check_wall_clock(self.window_start, "window_start")
            _check_wall_clock(self.window_end, "window_end")


@dataclass(frozen=True)
class Override:
    """`person` is on call for [start, end), whatever the layers say."""

    person: Person
    start: datetime  # aware
    end: datetime  # aware, after start

    def __post_init__(self) -> None:
        _check_person(self.person)
        if zones.to_naive_utc(self.end, "An override's end") <= zones.to_naive_utc(self.start, "An override's start"):
            raise ValueError(f"An override must end after it starts ({self.start} to {self.end}).")


@dataclass(frozen=True)
class Schedule:
    """A time zone, layers (later ones win where they have someone) and overrides (the last listed wins)."""

    time_zone: str  # IANA name
    layers: tuple[Rotation, ...]
    overrides: tuple[Override, ...] = ()
    # Derived once: the zone, the first handoff of each layer and the overrides, as naive UTC.
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _first_handoffs: tuple[datetime, ...] = field(init=False, repr=False, compare=False)
    _overrides_last_first: tuple[tuple[datetime, datetime, Person], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        for layer in self.layers:
            if not isinstance(layer, Rotation):
                raise ValueError(f"Layers must be oncall.Rotation values, not {layer!r}.")
        for override in self.overrides:
            if not isinstance(override, Override):
                raise ValueError(f"Overrides must be oncall.Override values, not {override!r}.")
        zone = zones.load_zone(self.time_zone)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_first_handoffs", tuple(_handoff(layer, zone, 0) for layer in self.layers))
        overrides = tuple(
            (zones.to_naive_utc(o.start, "start"), zones.to_naive_utc(o.end, "end"), o.person)
            for o in reversed(self.overrides)
        )
        object.__setattr__(self, "_overrides_last_first", overrides)


def on_call_at(schedule: Schedule, instant: datetime) -> Person | None:
    """Return who is on call at `instant`, or None when nobody is."""
    return _on_call(schedule, zones.to_naive_utc(instant, "instant"))


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Return who is on call over [start, end) as consecutive UTC (from, to, person) triples.

    The triples cover [start, end) exactly, person is None where nobody is on call, and no two
    neighbours have the same person. An empty list when `end` is not after `start`.
    """
    lo, hi = zones.to_naive_utc(start, "start"), zones.to_naive_utc(end, "end")
    if hi <= lo:
        return []
    timeline: list[Shift] = []
    cuts = sorted(_cuts(schedule, lo, hi))
    for piece_start, piece_end in zip(cuts, [*cuts[1:], hi], strict=True):
        person = _on_call(schedule, piece_start)
        if timeline and timeline[-1][2] == person:
            timeline[-1] = (timeline[-1][0], zones.aware(piece_end), person)
        else:
            timeline.append((zones.aware(piece_start), zones.aware(piece_end), person))
    return timeline


# --- internals: naive datetimes below are UTC unless named local ---------------------------------


def _check_person(person: object) -> None:
    if person is None:
        raise ValueError("None means 'nobody is on call' and cannot be a person.")
    try:
        hash(person)
    except TypeError as exc:
        raise ValueError(f"People must be hashable values, not {person!r}.") from exc


def _check_wall_clock(moment: object, name: str) -> None:
    # An aware time would suggest a zone other than the schedule's; wall-clock times only.
    if not isinstance(moment, time) or moment.tzinfo is not None:
        raise ValueError(f"A rotation's {name} must be a naive datetime.time, not {moment!r}.")


def _local_to_utc(zone: ZoneInfo, wall: datetime) -> datetime:
    """Return the instant a local wall-clock time happens: its first occurrence, or the end of its gap."""
    # PEP 495: in an overlap fold=0 is the first occurrence; in a gap fold=0 reads the wall time with the
    # offset before the gap and fold=1 with the one after, and only in a gap is the first one smaller.
    before = wall.replace(tzinfo=zone, fold=0).utcoffset()
    after = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None  # a ZoneInfo always knows the offset
    if before >= after:
        return wall - before
    # The gap's transition lies in (wall - after, wall - before]: the clock jumps past `wall` there.
    return zones.first_change(zone, wall - after, wall - before, before)


def _handoff(rotation: Rotation, zone: ZoneInfo, k: int) -> datetime:
    local_date = rotation.start + k * rotation.length_days * _DAY
    return _local_to_utc(zone, datetime.combine(local_date, rotation.handoff).replace(fold=0))


def _shift_index(rotation: Rotation, zone: ZoneInfo, at: datetime, local_date: date) -> int:
    """Return the k with handoff k <= at < handoff k + 1; `at` must not be before handoff 0."""
    k = (local_date - rotation.start).days // rotation.length_days
    # The guess is the shift whose handoff date is the last one on or before the local date. DST can
    # put the instant on the other side of that handoff or the next one (a gap moves a handoff later,
    # a fold repeats wall-clock times across it), never further: the loops run at most once.
    while _handoff(rotation, zone, k + 1) <= at:
        k += 1
    while k > 0 and _handoff(rotation, zone, k) > at:
        k -= 1
    return k


def _in_window(rotation: Rotation, clock: time) -> bool:
    opens, closes = rotation.window_start, rotation.window_end
    if opens is None or closes is None:
        return True
    if opens < closes:
        return opens <= clock < closes
    # Past midnight: an end of 00:00 leaves just `clock >= opens`, equal ends leave every time of day.
    return clock >= opens or clock < closes


def _on_call(schedule: Schedule, at: datetime) -> Person | None:
    for override_start, override_end, person in schedule._overrides_last_first:
        if override_start <= at < override_end:
            return person
    local = None
    for layer, first_handoff in zip(reversed(schedule.layers), reversed(schedule._first_handoffs), strict=True):
        if at < first_handoff:
            continue
        if local is None:
            # The rule is about the wall-clock reading, whatever the fold: drop the offset.
            local = at.replace(tzinfo=UTC).astimezone(schedule._zone).replace(tzinfo=None)
        if _in_window(layer, local.time()):
            k = _shift_index(layer, schedule._zone, at, local.date())
            return layer.people[k % len(layer.people)]
    return None


def _cuts(schedule: Schedule, lo: datetime, hi: datetime) -> set[datetime]:
    """Return `lo` and every instant in (lo, hi) where who is on call may change."""
    cuts = {lo}
    for override_start, override_end, _ in schedule._overrides_last_first:
        cuts.update((override_start, override_end))
    zone = schedule._zone
    pieces = zones.constant_offset_pieces(zone, lo, hi)
    # A window edge can be crossed by the wall clock jumping at an offset change.
    cuts.update(piece_start for piece_start, _, _ in pieces)
    for layer, first_handoff in zip(schedule.layers, schedule._first_handoffs, strict=True):
        cuts.update(_handoffs_until(layer, zone, first_handoff, lo, hi))
        if layer.window_start is not None and layer.window_end is not None and layer.window_start != layer.window_end:
            edges = (layer.window_start, layer.window_end)
            # On a piece local = UTC + offset exactly, so a local edge maps back by subtracting it.
            for piece_start, piece_end, offset in pieces:
                day = (piece_start + offset).date()
                while day <= (piece_end + offset).date():
                    moments = (datetime.combine(day, edge) - offset for edge in edges)
                    cuts.update(moment for moment in moments if piece_start < moment < piece_end)
                    day += _DAY
    return {cut for cut in cuts if lo <= cut < hi}


def _handoffs_until(
    rotation: Rotation, zone: ZoneInfo, first_handoff: datetime, lo: datetime, hi: datetime
) -> Iterator[datetime]:
    """Yield the rotation's handoffs in (lo, hi), in order."""
    if lo < first_handoff:
        k = 0
    else:
        local_date = lo.replace(tzinfo=UTC).astimezone(zone).date()
        k = _shift_index(rotation, zone, lo, local_date) + 1
    while (moment := _handoff(rotation, zone, k)) < hi:
        if moment > lo:
            yield moment
        k += 1

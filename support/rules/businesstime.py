"""Business time: the arithmetic behind SLA clocks. Pure Python, no Django, no database.

Semantics
---------
A calendar has an IANA time zone, weekly windows of local wall-clock time, and holidays (local dates).
An instant is business time iff its local wall-clock reading in the calendar's zone, that is
``instant.astimezone(ZoneInfo(time_zone))`` with the offset dropped, lies inside a window:

- A window ``(weekday w, start s, end e)`` on a local date ``d`` with ``d.weekday() == w`` covers the
  local wall-clock interval ``[d + s, d + e)`` when ``e > s``, and ``[d + s, d + 1 day + e)`` when
  ``e <= s``: it runs past midnight. ``e == 00:00`` means "until midnight"; ``s == e`` means 24 hours.
- A window does not run when the date it *starts* on is a holiday. An overnight window starting the
  evening before a holiday still runs into the holiday morning; one starting on the holiday does not run.
- An ``always_open`` calendar is 24/7: every instant is business time and holidays are ignored.

Business time is real elapsed time, and the rule above is about the wall clock, so daylight saving
time shapes it: local times skipped by a spring-forward gap do not exist and contribute nothing
(a 02:00-03:00 window on that night is worth 0 minutes), and a local hour repeated when clocks fall
back is counted once per real hour (a 01:00-03:00 window on that night is worth 3 hours).

Every datetime passed in must be timezone-aware (naive ones raise ValueError); every datetime
returned is in UTC. Intervals are half-open: ``[start, end)``.

How it is computed: between two changes of the zone's UTC offset, local wall-clock time is UTC plus a
constant, so each constant-offset piece of the UTC timeline is intersected with the windows' local
intervals and the result is shifted back to UTC. Offset changes are found by probing the offset every
few hours and bisecting to the second (tzdata transitions fall on whole seconds).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from support.rules import zones

_ZERO = timedelta(0)
_DAY = timedelta(days=1)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Window:
    """A weekly stretch of local wall-clock time; see the module docstring for overnight windows."""

    weekday: int  # 0 = Monday ... 6 = Sunday: the local date the window STARTS on
    start: time  # local wall-clock
    end: time  # local wall-clock; end <= start runs past midnight; end == start means 24 hours

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6:
            raise ValueError(f"A window's weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday!r}.")
        for moment in (self.start, self.end):
            # An aware time would suggest a zone other than the calendar's; wall-clock times only.
            if not isinstance(moment, time) or moment.tzinfo is not None:
                raise ValueError(f"A window's start and end must be naive datetime.time values, not {moment!r}.")


@dataclass(frozen=True)
class BusinessCalendar:
    """Support hours: a time zone, weekly windows and holidays (local dates), or 24/7."""

    time_zone: str  # IANA name
    windows: tuple[Window, ...] = ()
    holidays: frozenset[date] = frozenset()  # local dates
    always_open: bool = False  # 24/7: every instant is business time, holidays ignored
    # Derived once: the zone object and, per weekday, the windows as (offset, length) pairs.
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _by_weekday: tuple[tuple[tuple[timedelta, timedelta], ...], ...] = field(init=False, repr=False, compare=False)
    _max_closed_days: int = field(init=False, repr=False, compare=False)
    # The business time of each UTC day, computed when first asked for: a calendar answering many
    # questions (a sweep, an import) intersects each day's windows once.
    _days: dict[datetime, list[tuple[datetime, datetime]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept any iterables but store immutable ones, so calendars stay hashable and frozen.
        object.__setattr__(self, "windows", tuple(self.windows))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "_zone", zones.load_zone(self.time_zone))
        if not self.always_open and not self.windows:
            raise ValueError("A business calendar needs at least one working window, or 24/7.")
        for window in self.windows:
            if not isinstance(window, Window):
                raise ValueError(f"Windows must be businesstime.Window values, not {window!r}.")
        for holiday in self.holidays:
            # A datetime is a date too, but would never equal a local date: refuse it instead.
            if isinstance(holiday, datetime) or not isinstance(holiday, date):
                raise ValueError(f"Holidays must be datetime.date values, not {holiday!r}.")
        by_weekday = tuple(
            tuple(sorted(_opening_and_length(w) for w in self.windows if w.weekday == day)) for day in range(7)
        )
        object.__setattr__(self, "_by_weekday", by_weekday)
        # Every week has a window of positive length, so only holidays can keep the desk closed for
        # long (a DST gap swallows at most one day). Walking further than this means a bug, not a
        # calendar: fail loudly instead of looping forever.
        object.__setattr__(self, "_max_closed_days", 7 * (len(self.holidays) + 3))
        object.__setattr__(self, "_days", {})


def is_open(calendar: BusinessCalendar, instant: datetime) -> bool:
    """Return whether `instant` is business time."""
    zones.to_naive_utc(instant, "instant")
    if calendar.always_open:
        return True
    # The rule is about the wall-clock reading, whatever the fold: drop the offset.
    local = instant.astimezone(calendar._zone).replace(tzinfo=None)
    # Windows last at most 24 hours, so only those starting today or yesterday can cover `local`.
    for day in (local.date() - _DAY, local.date()):
        for opens, closes in _local_windows(calendar, day):
            if opens <= local < closes:
                return True
    return False


def open_intervals(calendar: BusinessCalendar, start: datetime, end: datetime) -> Iterator[Interval]:
    """Yield the business time within [start, end) as sorted, merged, non-overlapping UTC intervals."""
    # Validate now rather than on first iteration, so misuse fails where it happens.
    lo, hi = zones.to_naive_utc(start, "start"), zones.to_naive_utc(end, "end")
    return _merged_aware(calendar, lo, hi)


def business_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Return the business time in [start, end); zero when `end` is not after `start`."""
    lo, hi = zones.to_naive_utc(start, "start"), zones.to_naive_utc(end, "end")
    if hi <= lo:
        return _ZERO
    if calendar.always_open:
        return hi - lo
    return sum((b - a for a, b in _intervals(calendar, lo, hi)), _ZERO)


def add_business_time(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """Return the earliest instant t with business_time_between(calendar, start, t) == duration.

    Counting starts at the next opening when `start` is outside business hours; a zero duration
    returns `start` itself (in UTC).
    """
    lo = zones.to_naive_utc(start, "start")
    if not isinstance(duration, timedelta):
        raise TypeError(f"duration must be a timedelta, not {duration!r}.")
    if duration < _ZERO:
        raise ValueError(f"Cannot add a negative business duration ({duration}).")
    if calendar.always_open or not duration:
        return zones.aware(lo + duration)
    remaining = duration
    for a, b in _intervals(calendar, lo, None):
        if b - a >= remaining:
            return zones.aware(a + remaining)
        remaining -= b - a
    raise AssertionError("unreachable: an open-ended walk only stops by returning or raising")


def next_opening(calendar: BusinessCalendar, instant: datetime) -> datetime:
    """Return `instant` (in UTC) if it is business time, else the start of the next business interval."""
    at = zones.to_naive_utc(instant, "instant")
    if calendar.always_open:
        return zones.aware(at)
    # Intervals are clipped to start at `at`, so an open instant is its own first interval's start.
    return zones.aware(next(_intervals(calendar, at, None))[0])


# --- internals: naive datetimes below are UTC unless named local ---------------------------------


def _opening_and_length(window: Window) -> tuple[timedelta, timedelta]:
    """Return when the window opens after local midnight, and its wall-clock length.

    The length is between a microsecond and 24 hours, never zero, so every week has business time
    and forward walks end.
    """
    start, end = _since_midnight(window.start), _since_midnight(window.end)
    return start, (end - start if end > start else end + _DAY - start)


def _since_midnight(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second, microseconds=moment.microsecond)


def _local_windows(calendar: BusinessCalendar, day: date) -> Iterator[Interval]:
    """Yield the local wall-clock intervals of the windows starting on local date `day`."""
    if day in calendar.holidays:
        return
    midnight = datetime.combine(day, time())
    for offset, length in calendar._by_weekday[day.weekday()]:
        opens = midnight + offset
        yield opens, opens + length


def _chunk(calendar: BusinessCalendar, lo: datetime, hi: datetime) -> list[Interval]:
    """Return the business time within [lo, hi), sorted and merged."""
    found = []
    for piece_lo, piece_hi, offset in zones.constant_offset_pieces(calendar._zone, lo, hi):
        # On this piece local = UTC + offset exactly, so intersect in local time and shift back.
        local_lo, local_hi = piece_lo + offset, piece_hi + offset
        # A window starting the day before can run into local_lo (windows last at most 24 hours).
        day, last_day = local_lo.date() - _DAY, local_hi.date()
        while day <= last_day:
            for opens, closes in _local_windows(calendar, day):
                a, b = max(opens, local_lo), min(closes, local_hi)
                if a < b:
                    found.append((a - offset, b - offset))
            day += _DAY
    return _merge(sorted(found))


def _day(calendar: BusinessCalendar, midnight: datetime) -> list[Interval]:
    """Return the business time of the UTC day starting at `midnight`, sorted and merged (cached)."""
    found = calendar._days.get(midnight)
    if found is None:
        found = calendar._days[midnight] = _chunk(calendar, midnight, midnight + _DAY)
    return found


def _intervals(calendar: BusinessCalendar, lo: datetime, hi: datetime | None) -> Iterator[Interval]:
    """Yield business intervals within [lo, hi) (open-ended if hi is None), sorted, non-overlapping.

    They come a UTC day at a time and are merged within a day only, so two may touch at midnight;
    summing and walking do not care, and an open-ended walk must not wait for a merged interval
    that never ends.
    """
    midnight = datetime.combine(lo.date(), time())
    closed_days = 0
    while hi is None or midnight < hi:
        found = False
        for a, b in _day(calendar, midnight):
            a, b = max(a, lo), b if hi is None else min(b, hi)
            if a < b:
                found = True
                yield a, b
        closed_days = 0 if found else closed_days + 1
        if hi is None and closed_days > calendar._max_closed_days:
            raise RuntimeError(f"No business time found in {closed_days} days after {lo}; is the calendar valid?")
        midnight += _DAY


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge sorted intervals that overlap or touch."""
    merged: list[Interval] = []
    for a, b in intervals:
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _merged_aware(calendar: BusinessCalendar, lo: datetime, hi: datetime) -> Iterator[Interval]:
    if hi <= lo:
        return
    if calendar.always_open:
        yield zones.aware(lo), zones.aware(hi)
        return
    pending: Interval | None = None
    for a, b in _intervals(calendar, lo, hi):
        if pending is not None and a <= pending[1]:
            pending = (pending[0], max(pending[1], b))
            continue
        if pending is not None:
            yield zones.aware(pending[0]), zones.aware(pending[1])
        pending = (a, b)
    if pending is not None:
        yield zones.aware(pending[0]), zones.aware(pending[1])

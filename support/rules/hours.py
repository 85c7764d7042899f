"""Support hours in words: a calendar's weekly windows spelled out, in its own zone or a reader's.

Pure: windows are (weekday, start, end) with Monday = 0 and local times; an end at or before the
start runs past midnight, as in `businesstime`.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from .zones import load_zone

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
Window = tuple[int, time, time]


def spelled_hours(windows: Iterable[Window]) -> list[str]:
    """Return the week as lines such as "Mon–Fri 06:00–20:00": consecutive days with the same hours share one."""
    by_day: defaultdict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, start, end in windows:
        by_day[weekday].append((start, end))
    groups: list[tuple[int, int, tuple[tuple[time, time], ...]]] = []
    for day in range(7):
        spans = tuple(sorted(by_day.get(day, ())))
        if not spans:
            continue
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == spans:
            groups[-1] = (groups[-1][0], day, spans)
        else:
            groups.append((day, day, spans))
    return [
        f"{DAY_NAMES[first]}{'–' + DAY_NAMES[last] if last != first else ''} "
        + ", ".join(f"{start:%H:%M}–{end:%H:%M}" for start, end in spans)
        for first, last, spans in groups
    ]


def in_zone(windows: Iterable[Window], from_zone: str, to_zone: str, week_of: date) -> list[Window]:
    """Return the windows as a reader in `to_zone` sees them in the week of `week_of` (offsets of that week)."""
    source, target = load_zone(from_zone), load_zone(to_zone)
    monday = week_of - timedelta(days=week_of.weekday())
    moved = []
    for weekday, start, end in windows:
        day = monday + timedelta(days=weekday)
        opens = datetime.combine(day, start, tzinfo=source)
        closes = datetime.combine(day + timedelta(days=1) if end <= start else day, end, tzinfo=source)
        local_open, local_close = opens.astimezone(target), closes.astimezone(target)
        moved.append((local_open.weekday(), local_open.time(), local_close.time()))
    return moved

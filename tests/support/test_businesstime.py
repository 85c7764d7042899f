"""Business time (support/rules/businesstime.py): exact examples, and properties against a brute-force oracle.

The oracle restates the rule of the module docstring as literally as possible, one UTC minute at a
time: a minute is open iff its local wall-clock reading lies in a window of its local date, or in
the overnight part of a window of the previous local date, and the window's start date is no holiday.
"""

import functools
import itertools
import timeit
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.rules.businesstime import (
    BusinessCalendar,
    Window,
    add_business_time,
    business_time_between,
    is_open,
    next_opening,
    open_intervals,
)

MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)
SPAN_DAYS = 10  # keeps the minute-by-minute oracle cheap
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
WEEKDAYS = range(5)
ZONES = (
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Istanbul",
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30 / -02:30
    "Asia/Kathmandu",  # +05:45
)


def examples(n):
    # No example database: it would write files outside this test's business; failures print their example.
    return settings(max_examples=n, deadline=None, database=None)


def calendar(zone, *windows, holidays=(), always_open=False):
    return BusinessCalendar(zone, tuple(Window(*w) for w in windows), frozenset(holidays), always_open)


def office(zone="Europe/Berlin", holidays=()):
    """Monday to Friday, 09:00-17:00."""
    return calendar(zone, *((day, time(9), time(17)) for day in WEEKDAYS), holidays=holidays)


def hours(n):
    return timedelta(hours=n)


# --- the oracle ---------------------------------------------------------------------------------


def oracle_is_open(cal, instant):
    if cal.always_open:
        return True
    local = instant.astimezone(ZoneInfo(cal.time_zone))
    today, clock = local.date(), local.time()
    yesterday = today - timedelta(days=1)
    for w in cal.windows:
        overnight = w.end <= w.start
        if today.weekday() == w.weekday and today not in cal.holidays:
            if overnight and clock >= w.start:
                return True
            if not overnight and w.start <= clock < w.end:
                return True
        if overnight and yesterday.weekday() == w.weekday and yesterday not in cal.holidays and clock < w.end:
            return True
    return False


def oracle_between(cal, a, b):
    """Open minutes in [a, b), for minute-aligned a and b."""
    minutes = (b - a) // MINUTE
    return sum(oracle_is_open(cal, a + i * MINUTE) for i in range(max(minutes, 0))) * MINUTE


def oracle_add(cal, a, n_minutes):
    """The end of the n-th open minute from a (a itself for n == 0)."""
    t, counted = a, 0
    while counted < n_minutes:
        counted += oracle_is_open(cal, t)
        t += MINUTE
    return t


def oracle_next_opening(cal, a):
    t = a
    while not oracle_is_open(cal, t):
        t += MINUTE
    return t


# --- strategies ---------------------------------------------------------------------------------


@functools.cache
def offset_changes(zone_name, year):
    """UTC instants in `year` where the zone's offset changes (to the minute)."""
    zone, step = ZoneInfo(zone_name), timedelta(hours=6)
    t, end, changes = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC), []
    while t < end:
        before = t.astimezone(zone).utcoffset()
        if (t + step).astimezone(zone).utcoffset() != before:
            change = t
            while change.astimezone(zone).utcoffset() == before:
                change += MINUTE
            changes.append(change)
        t += step
    return tuple(changes)


# Times where DST transitions happen, midnight, and the ends of office days, plus any minute.
NOTABLE_TIMES = [time(h, m) for h in (0, 1, 2, 3) for m in (0, 15, 30, 45)] + [
    time(9),
    time(17),
    time(22),
    time(23, 59),
]
clock_times = st.one_of(st.sampled_from(NOTABLE_TIMES), st.builds(time, st.integers(0, 23), st.integers(0, 59)))
window_groups = st.tuples(st.sets(st.integers(0, 6), min_size=1), clock_times, clock_times)


# Hypothesis favours small integers: one wide integer would mostly give spans of a few minutes.
# Drawing the day, the minute and the microsecond apart spreads spans evenly over the days.
def spread_over_days(first_day, last_day, *, sub_minute=False):
    return st.builds(
        lambda day, minute, micro: timedelta(days=day, minutes=minute, microseconds=micro),
        st.integers(first_day, last_day - 1),
        st.integers(0, 24 * 60 - 1),
        st.integers(0, 59_999_999) if sub_minute else st.just(0),
    )


def up_to(n):
    """Integers from 0 to n, spread over the whole range and hitting both ends."""
    return st.one_of(st.sampled_from([0, n]), st.floats(0, 1).map(lambda f: round(f * n)), st.integers(0, n))


@st.composite
def calendars_and_starts(draw):
    """A random calendar and a minute-aligned UTC start, often a few days before a DST change."""
    zone = draw(st.sampled_from(ZONES))
    year = draw(st.integers(1995, 2040))
    changes = offset_changes(zone, year)
    if changes and draw(st.booleans()):
        start = draw(st.sampled_from(changes)) + draw(spread_over_days(-3, 1))
    else:
        start = datetime(year, 1, 1, tzinfo=UTC) + draw(spread_over_days(0, 365))
    groups = draw(st.lists(window_groups, min_size=1, max_size=3))
    windows = tuple(Window(day, opens, closes) for days, opens, closes in groups for day in sorted(days))
    first_local_day = start.astimezone(ZoneInfo(zone)).date()
    holidays = frozenset(first_local_day + timedelta(days=k) for k in draw(st.sets(st.integers(-1, 11), max_size=4)))
    always_open = draw(st.integers(0, 19)) == 0
    return BusinessCalendar(zone, windows, holidays, always_open), start


def presented(cal, instant, in_local_zone):
    """The same instant, in UTC or in the calendar's own zone (where naive subtraction would lie)."""
    return instant.astimezone(ZoneInfo(cal.time_zone)) if in_local_zone else instant


# --- properties against the oracle --------------------------------------------------------------


@examples(800)
@given(
    calendars_and_starts(),
    st.one_of(spread_over_days(0, SPAN_DAYS), st.integers(-60, 0).map(lambda n: n * MINUTE)),
    st.booleans(),
)
def test_business_time_between_matches_the_oracle(scenario, span, in_local_zone):
    cal, a = scenario
    b = a + span
    got = business_time_between(cal, presented(cal, a, in_local_zone), presented(cal, b, in_local_zone))
    assert got == oracle_between(cal, a, b)


@examples(600)
@given(calendars_and_starts(), spread_over_days(0, SPAN_DAYS), st.data())
def test_adding_business_time_matches_the_oracle(scenario, span, data):
    cal, a = scenario
    available = oracle_between(cal, a, a + span) // MINUTE
    n = data.draw(up_to(available), label="minutes to add")
    assert add_business_time(cal, a, n * MINUTE) == oracle_add(cal, a, n)


@examples(500)
@given(calendars_and_starts(), spread_over_days(0, SPAN_DAYS), st.booleans())
def test_being_open_and_the_next_opening_match_the_oracle(scenario, offset, in_local_zone):
    cal, a = scenario
    t = a + offset
    assert is_open(cal, presented(cal, t, in_local_zone)) == oracle_is_open(cal, t)
    assert next_opening(cal, presented(cal, t, in_local_zone)) == oracle_next_opening(cal, t)


# --- algebraic properties (any microsecond, no oracle needed) ------------------------------------

microsecond_offsets = spread_over_days(0, SPAN_DAYS, sub_minute=True)


@examples(1000)
@given(calendars_and_starts(), st.integers(0, 59_999_999), st.data())
def test_measuring_what_was_added_gives_back_the_duration(scenario, jitter, data):
    cal, a = scenario
    a += jitter * MICROSECOND
    available = business_time_between(cal, a, a + timedelta(days=SPAN_DAYS))
    duration = data.draw(up_to(available // MICROSECOND), label="microseconds to add") * MICROSECOND
    due = add_business_time(cal, a, duration)
    assert business_time_between(cal, a, due) == duration
    if duration:  # and it is the earliest such instant
        assert business_time_between(cal, a, due - MICROSECOND) < duration
    else:
        assert due == a


@examples(1000)
@given(calendars_and_starts(), st.lists(microsecond_offsets, min_size=3, max_size=3))
def test_business_time_is_additive(scenario, offsets):
    cal, start = scenario
    a, b, c = sorted(start + o for o in offsets)
    assert business_time_between(cal, a, b) + business_time_between(cal, b, c) == business_time_between(cal, a, c)


@examples(1000)
@given(calendars_and_starts(), st.lists(microsecond_offsets, min_size=3, max_size=3), st.data())
def test_business_time_grows_with_the_span_and_due_times_grow_with_the_duration(scenario, offsets, data):
    cal, start = scenario
    a, b, c = sorted(start + o for o in offsets)
    assert business_time_between(cal, a, b) <= business_time_between(cal, a, c) <= c - a
    assert business_time_between(cal, b, c) <= business_time_between(cal, a, c)
    available = business_time_between(cal, a, c) // MICROSECOND
    shorter, longer = sorted(data.draw(st.lists(up_to(available), min_size=2, max_size=2)))
    early = add_business_time(cal, a, shorter * MICROSECOND)
    late = add_business_time(cal, a, longer * MICROSECOND)
    assert a <= early <= late
    assert late - a >= longer * MICROSECOND  # business time never runs faster than real time


@examples(500)
@given(calendars_and_starts(), st.lists(microsecond_offsets, min_size=2, max_size=2))
def test_open_intervals_are_sorted_merged_utc_and_sum_to_the_business_time(scenario, offsets):
    cal, start = scenario
    a, b = sorted(start + o for o in offsets)
    intervals = list(open_intervals(cal, a, b))
    assert all(x.tzinfo is UTC and y.tzinfo is UTC for x, y in intervals)
    assert all(a <= x < y <= b for x, y in intervals)
    assert all(y1 < x2 for (_, y1), (x2, _) in itertools.pairwise(intervals))  # neither overlap nor touch
    assert sum((y - x for x, y in intervals), timedelta()) == business_time_between(cal, a, b)
    for x, y in intervals:
        assert is_open(cal, x)
        assert is_open(cal, y - MICROSECOND)
        assert y == b or not is_open(cal, y)


# --- daylight saving time, exactly --------------------------------------------------------------


def test_a_berlin_spring_forward_sunday_has_23_hours():
    around_the_clock = calendar("Europe/Berlin", (6, time(0), time(0)))
    day = datetime(2026, 3, 29, tzinfo=BERLIN)  # last Sunday of March
    assert business_time_between(around_the_clock, day, day + timedelta(days=1)) == hours(23)


def test_a_berlin_fall_back_sunday_has_25_hours():
    around_the_clock = calendar("Europe/Berlin", (6, time(0), time(0)))
    day = datetime(2026, 10, 25, tzinfo=BERLIN)  # last Sunday of October
    assert business_time_between(around_the_clock, day, day + timedelta(days=1)) == hours(25)


def test_an_office_day_is_still_8_hours_on_the_berlin_dst_sundays():
    sunday_office = calendar("Europe/Berlin", (6, time(9), time(17)))
    for day in (datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 10, 25, tzinfo=BERLIN)):
        assert business_time_between(sunday_office, day, day + timedelta(days=1)) == hours(8)


def test_a_window_inside_the_berlin_spring_forward_gap_is_worth_nothing():
    in_the_gap = calendar("Europe/Berlin", (6, time(2), time(3)))
    day = datetime(2026, 3, 29, tzinfo=BERLIN)
    assert business_time_between(in_the_gap, day, day + timedelta(days=1)) == timedelta(0)
    assert list(open_intervals(in_the_gap, day, day + timedelta(days=1))) == []


def test_the_repeated_berlin_hour_counts_twice_on_the_fall_back_night():
    repeated = calendar("Europe/Berlin", (6, time(2), time(3)))
    day = datetime(2026, 10, 25, tzinfo=BERLIN)
    assert business_time_between(repeated, day, day + timedelta(days=1)) == hours(2)


def test_the_repeated_new_york_hour_counts_twice_on_the_fall_back_night():
    night = calendar("America/New_York", (6, time(1), time(3)))
    sunday = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert business_time_between(night, sunday, sunday + timedelta(days=1)) == hours(3)
    # 01:00 EDT is 05:00 UTC, 03:00 EST is 08:00 UTC: one unbroken interval.
    assert list(open_intervals(night, sunday, sunday + timedelta(days=1))) == [
        (datetime(2026, 11, 1, 5, tzinfo=UTC), datetime(2026, 11, 1, 8, tzinfo=UTC))
    ]


def test_a_window_inside_the_new_york_spring_forward_gap_is_worth_nothing():
    in_the_gap = calendar("America/New_York", (6, time(2), time(3)))
    sunday = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    assert business_time_between(in_the_gap, sunday, sunday + timedelta(days=1)) == timedelta(0)


def test_lord_howe_loses_and_repeats_half_an_hour():
    # Clocks go 02:00 -> 02:30 on the first Sunday of October, and 02:00 -> 01:30 on the first of April.
    gap = calendar("Australia/Lord_Howe", (6, time(2), time(3)))
    spring = datetime(2026, 10, 4, tzinfo=LORD_HOWE)
    assert business_time_between(gap, spring, spring + timedelta(days=1)) == timedelta(minutes=30)
    overlap = calendar("Australia/Lord_Howe", (6, time(1), time(2)))
    autumn = datetime(2026, 4, 5, tzinfo=LORD_HOWE)
    assert business_time_between(overlap, autumn, autumn + timedelta(days=1)) == timedelta(minutes=90)


def test_a_due_time_crossing_the_spring_forward_night_keeps_its_local_hour():
    due = add_business_time(office(), datetime(2026, 3, 27, 16, tzinfo=BERLIN), hours(2))  # Friday 16:00 CET
    assert due == datetime(2026, 3, 30, 10, tzinfo=BERLIN)  # Monday 10:00 CEST
    assert due == datetime(2026, 3, 30, 8, tzinfo=UTC)


# --- tickets and office hours -------------------------------------------------------------------


def test_a_ticket_created_on_friday_evening_is_due_on_monday_afternoon():
    due = add_business_time(office(), datetime(2026, 3, 6, 18, tzinfo=BERLIN), hours(4))
    assert due == datetime(2026, 3, 9, 13, tzinfo=BERLIN)


def test_a_holiday_monday_pushes_the_due_time_to_tuesday():
    due = add_business_time(office(holidays={date(2026, 3, 9)}), datetime(2026, 3, 6, 18, tzinfo=BERLIN), hours(4))
    assert due == datetime(2026, 3, 10, 13, tzinfo=BERLIN)


def test_it_adds_nothing_across_a_holiday():
    cal = office(holidays={date(2026, 3, 9)})
    friday_close, tuesday_open = datetime(2026, 3, 6, 17, tzinfo=BERLIN), datetime(2026, 3, 10, 9, tzinfo=BERLIN)
    assert business_time_between(cal, friday_close, tuesday_open) == timedelta(0)


def test_the_due_time_is_the_close_of_business_not_the_next_opening():
    monday_nine = datetime(2026, 3, 9, 9, tzinfo=BERLIN)
    assert add_business_time(office(), monday_nine, hours(8)) == datetime(2026, 3, 9, 17, tzinfo=BERLIN)


def test_adding_nothing_returns_the_start_even_outside_hours():
    saturday = datetime(2026, 3, 7, 12, tzinfo=BERLIN)
    assert add_business_time(office(), saturday, timedelta(0)) == saturday


def test_results_are_in_utc():
    due = add_business_time(office(), datetime(2026, 3, 6, 18, tzinfo=BERLIN), hours(4))
    assert due.tzinfo is UTC
    assert next_opening(office(), datetime(2026, 3, 6, 18, tzinfo=BERLIN)).tzinfo is UTC


def test_the_next_opening_is_the_instant_itself_when_open_and_monday_morning_after_a_friday_evening():
    tuesday_ten = datetime(2026, 3, 10, 10, tzinfo=BERLIN)
    assert next_opening(office(), tuesday_ten) == tuesday_ten
    assert next_opening(office(), datetime(2026, 3, 6, 18, tzinfo=BERLIN)) == datetime(2026, 3, 9, 9, tzinfo=BERLIN)


def test_business_time_is_zero_when_the_end_is_not_after_the_start():
    monday_ten = datetime(2026, 3, 9, 10, tzinfo=BERLIN)
    assert business_time_between(office(), monday_ten, monday_ten) == timedelta(0)
    assert business_time_between(office(), monday_ten, monday_ten - hours(1)) == timedelta(0)
    assert list(open_intervals(office(), monday_ten, monday_ten - hours(1))) == []


# --- overnight and whole-day windows ------------------------------------------------------------


def test_an_overnight_window_runs_past_midnight():
    nights = calendar("Europe/Berlin", *((day, time(22), time(6)) for day in WEEKDAYS))
    friday_eleven_pm = datetime(2026, 3, 6, 23, tzinfo=BERLIN)
    assert is_open(nights, datetime(2026, 3, 7, 5, 59, tzinfo=BERLIN))  # Saturday morning, Friday's window
    assert not is_open(nights, datetime(2026, 3, 8, 23, tzinfo=BERLIN))  # Sunday night: no window starts
    # Friday's window gives 7 hours until Saturday 06:00; the last hour comes on Monday from 22:00.
    assert add_business_time(nights, friday_eleven_pm, hours(8)) == datetime(2026, 3, 9, 23, tzinfo=BERLIN)


def test_an_overnight_window_starting_the_evening_before_a_holiday_still_runs():
    nights = calendar("Europe/Berlin", *((day, time(22), time(6)) for day in WEEKDAYS), holidays={date(2026, 3, 10)})
    assert is_open(nights, datetime(2026, 3, 10, 3, tzinfo=BERLIN))  # holiday morning, Monday's window
    assert not is_open(nights, datetime(2026, 3, 10, 23, tzinfo=BERLIN))  # starts on the holiday
    assert not is_open(nights, datetime(2026, 3, 11, 3, tzinfo=BERLIN))
    monday_noon, wednesday_noon = datetime(2026, 3, 9, 12, tzinfo=BERLIN), datetime(2026, 3, 11, 12, tzinfo=BERLIN)
    assert business_time_between(nights, monday_noon, wednesday_noon) == hours(8)


def test_a_window_ending_at_midnight_runs_until_midnight():
    evenings = calendar("Europe/Berlin", (0, time(18), time(0)))
    monday = datetime(2026, 3, 9, tzinfo=BERLIN)
    assert business_time_between(evenings, monday, monday + timedelta(days=7)) == hours(6)
    assert not is_open(evenings, datetime(2026, 3, 10, 0, tzinfo=BERLIN))


def test_a_window_with_equal_start_and_end_lasts_24_hours():
    from_noon = calendar("Europe/Berlin", (0, time(12), time(12)))
    monday = datetime(2026, 3, 9, tzinfo=BERLIN)
    assert list(open_intervals(from_noon, monday, monday + timedelta(days=7))) == [
        (datetime(2026, 3, 9, 11, tzinfo=UTC), datetime(2026, 3, 10, 11, tzinfo=UTC))
    ]


def test_windows_every_day_around_the_clock_still_let_a_due_time_be_found():
    every_day = calendar("Europe/Berlin", *((day, time(0), time(0)) for day in range(7)))
    start = datetime(2026, 3, 9, tzinfo=BERLIN)
    # Real time: 30 days of 24 hours, though the wall clock loses an hour on March 29.
    assert add_business_time(every_day, start, timedelta(days=30)) == start.astimezone(UTC) + timedelta(days=30)


# --- 24/7 ---------------------------------------------------------------------------------------


def test_a_24_7_calendar_counts_every_real_hour_and_ignores_holidays():
    always = calendar("Europe/Berlin", always_open=True, holidays={date(2026, 3, 29)})
    saturday_noon = datetime(2026, 3, 28, 12, tzinfo=BERLIN)
    assert add_business_time(always, saturday_noon, hours(24)) == datetime(2026, 3, 29, 13, tzinfo=BERLIN)
    saturday, monday = datetime(2026, 3, 28, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)
    assert business_time_between(always, saturday, monday) == hours(47)
    assert is_open(always, datetime(2026, 3, 29, 12, tzinfo=BERLIN))
    assert next_opening(always, saturday) == saturday
    assert list(open_intervals(always, saturday, monday)) == [(saturday, monday)]


# --- validation ---------------------------------------------------------------------------------


def test_a_calendar_with_no_working_time_is_refused():
    with pytest.raises(ValueError, match=r"^A business calendar needs at least one working window, or 24/7\.$"):
        BusinessCalendar("Europe/Berlin")


def test_a_24_7_calendar_needs_no_windows():
    assert BusinessCalendar("UTC", always_open=True).windows == ()


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Olympus_Mons'"):
        BusinessCalendar("Mars/Olympus_Mons", always_open=True)


@pytest.mark.parametrize("weekday", [-1, 7])
def test_a_weekday_outside_monday_to_sunday_is_refused(weekday):
    with pytest.raises(ValueError, match="weekday"):
        BusinessCalendar("UTC", (Window(weekday, time(9), time(17)),))


def test_holidays_must_be_dates_not_datetimes():
    with pytest.raises(ValueError, match="Holidays"):
        office(holidays={datetime(2026, 3, 9)})


def test_a_negative_duration_is_refused():
    with pytest.raises(ValueError, match="negative"):
        add_business_time(office(), datetime(2026, 3, 9, tzinfo=UTC), timedelta(minutes=-1))


NAIVE = datetime(2026, 3, 9, 10)
AWARE = datetime(2026, 3, 9, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "call",
    [
        lambda cal: is_open(cal, NAIVE),
        lambda cal: next_opening(cal, NAIVE),
        lambda cal: open_intervals(cal, NAIVE, AWARE),
        lambda cal: open_intervals(cal, AWARE, NAIVE),
        lambda cal: business_time_between(cal, NAIVE, AWARE),
        lambda cal: business_time_between(cal, AWARE, NAIVE),
        lambda cal: add_business_time(cal, NAIVE, hours(1)),
    ],
    ids=[
        "is_open",
        "next_opening",
        "open_intervals-start",
        "open_intervals-end",
        "between-start",
        "between-end",
        "add",
    ],
)
@pytest.mark.parametrize("cal", [office(), BusinessCalendar("UTC", always_open=True)], ids=["office", "24/7"])
def test_naive_datetimes_are_refused(call, cal):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(cal)


def test_calendars_are_hashable_values():
    assert office() == office()
    assert len({office(), office(), office(holidays={date(2026, 3, 9)})}) == 2


# --- speed --------------------------------------------------------------------------------------


def test_adding_five_business_days_takes_well_under_a_few_milliseconds():
    friday_evening = datetime(2026, 3, 27, 18, tzinfo=BERLIN)  # the five days cross the DST change
    runs = 50
    seconds = timeit.timeit(lambda: add_business_time(office(), friday_evening, hours(40)), number=runs)
    assert seconds / runs < 0.01  # measured around 0.15 ms; generous for slow CI machines

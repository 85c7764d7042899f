"""The SLA clock rules (support/rules/sla.py), on plain values."""

from datetime import UTC, datetime, time, timedelta

from support.rules import businesstime
from support.rules.sla import Targets, TimelineEntry, compute_clock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
ALWAYS = businesstime.BusinessCalendar(time_zone="UTC", always_open=True)
OFFICE = businesstime.BusinessCalendar(
    time_zone="UTC", windows=tuple(businesstime.Window(day, time(9), time(17)) for day in range(5))
)
TARGETS = Targets(first_response=timedelta(hours=1), resolution=timedelta(hours=8), warning_ratio=0.75)


def minutes(n):
    return T0 + timedelta(minutes=n)


def clock(*entries, calendar=ALWAYS, targets=TARGETS):
    timeline = [TimelineEntry("received", T0), *entries]
    return compute_clock(received_at=T0, timeline=timeline, targets=targets, calendar=calendar)


def test_both_clocks_start_at_reception_with_warnings_at_three_quarters():
    c = clock()
    assert c.first_response_due == minutes(60)
    assert c.first_response_warn_at == minutes(45)
    assert c.resolution_due == minutes(480)
    assert c.resolution_warn_at == minutes(360)
    assert c.first_response_at is None


def test_the_automatic_acknowledgement_is_not_a_first_response():
    assert clock(TimelineEntry("auto_ack", minutes(0))).first_response_at is None


def test_a_partner_comment_is_not_a_first_response():
    assert clock(TimelineEntry("comment", minutes(5), by_staff=False)).first_response_at is None


def test_an_internal_note_is_not_a_first_response_but_a_public_staff_reply_is():
    c = clock(
        TimelineEntry("note", minutes(5), by_staff=True, public=False),
        TimelineEntry("comment", minutes(9), by_staff=True),
    )
    assert c.first_response_at == minutes(9)


def test_acknowledging_is_the_first_response():
    assert clock(TimelineEntry("acknowledged", minutes(3), by_staff=True)).first_response_at == minutes(3)


def test_waiting_on_partner_pauses_the_resolution_clock_and_extends_the_deadline():
    waiting = clock(
        TimelineEntry("acknowledged", minutes(5), by_staff=True), TimelineEntry("waiting", minutes(10), by_staff=True)
    )
    assert waiting.is_paused and waiting.resolution_due is None
    resumed = clock(
        TimelineEntry("acknowledged", minutes(5), by_staff=True),
        TimelineEntry("waiting", minutes(10), by_staff=True),
        TimelineEntry("resumed", minutes(70)),
    )
    assert not resumed.is_paused
    assert resumed.paused == timedelta(minutes=60)
    assert resumed.resolution_due == minutes(480 + 60)


def test_a_pause_outside_business_hours_extends_by_business_time_only():
    # Waiting from Monday 16:00 to Tuesday 10:00 pauses 1 h of the 09:00–17:00 day plus 1 h: 2 h.
    c = clock(
        TimelineEntry("waiting", minutes(7 * 60), by_staff=True),
        TimelineEntry("resumed", minutes(25 * 60)),
        calendar=OFFICE,
    )
    assert c.paused == timedelta(hours=2)
    # 8 business hours + 2 paused from Monday 09:00 is Tuesday 11:00.
    assert c.resolution_due == datetime(2026, 3, 3, 11, 0, tzinfo=UTC)


def test_time_between_resolution_and_reopening_does_not_count():
    c = clock(
        TimelineEntry("resolved", minutes(100), by_staff=True),
        TimelineEntry("reopened", minutes(400)),
    )
    assert c.paused == timedelta(minutes=300)
    assert c.resolution_due == minutes(480 + 300)


def test_a_resolved_ticket_keeps_the_deadline_it_was_resolved_against():
    c = clock(TimelineEntry("resolved", minutes(100), by_staff=True), TimelineEntry("closed", minutes(200)))
    assert not c.is_paused
    assert c.resolution_due == minutes(480)


def test_a_ticket_received_outside_hours_starts_its_clock_at_the_next_opening():
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    c = compute_clock(
        received_at=saturday, timeline=[TimelineEntry("received", saturday)], targets=TARGETS, calendar=OFFICE
    )
    assert c.first_response_due == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def test_resolving_while_waiting_keeps_the_wait_out_of_the_resolution_time():
    c = clock(
        TimelineEntry("acknowledged", minutes(5), by_staff=True),
        TimelineEntry("waiting", minutes(60), by_staff=True),
        TimelineEntry("resolved", minutes(20 * 60), by_staff=True),
    )
    assert c.paused == timedelta(hours=19)
    assert c.resolution_due == minutes(480 + 19 * 60)

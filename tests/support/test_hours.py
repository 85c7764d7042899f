"""Support hours in words: the week spelled out, in the calendar's zone and in the reader's."""

from datetime import date, time

import pytest
from django.urls import reverse

from support.rules.hours import in_zone, spelled_hours

WEEKDAYS_6_TO_20 = [(day, time(6), time(20)) for day in range(5)]


def test_days_with_the_same_hours_share_a_line():
    windows = [*WEEKDAYS_6_TO_20, (5, time(9), time(13))]
    assert spelled_hours(windows) == ["Mon–Fri 06:00–20:00", "Sat 09:00–13:00"]
    assert spelled_hours([(0, time(8), time(12)), (0, time(13), time(17)), (2, time(8), time(12))]) == [
        "Mon 08:00–12:00, 13:00–17:00",
        "Wed 08:00–12:00",
    ]
    assert spelled_hours([]) == []


def test_hours_move_to_the_readers_zone_with_that_weeks_offsets():
    winter = in_zone(WEEKDAYS_6_TO_20, "America/Los_Angeles", "Europe/London", date(2026, 12, 3))
    assert spelled_hours(winter) == ["Mon–Fri 14:00–04:00"]  # UTC−8 → UTC+0, the evening runs past midnight
    summer = in_zone(WEEKDAYS_6_TO_20, "America/Los_Angeles", "Europe/London", date(2026, 7, 1))
    assert spelled_hours(summer) == ["Mon–Fri 14:00–04:00"]  # both on summer time: still 8 hours
    spring = in_zone(WEEKDAYS_6_TO_20, "America/Los_Angeles", "Europe/London", date(2026, 3, 18))
    assert spelled_hours(spring) == ["Mon–Fri 13:00–03:00"]  # the US changed, the UK not yet: 7 hours


def test_a_window_can_start_on_another_day_for_the_reader():
    tokyo = in_zone([(0, time(9), time(18))], "Asia/Tokyo", "America/New_York", date(2026, 12, 3))
    assert spelled_hours(tokyo) == ["Sun 19:00–04:00"]  # Monday 09:00 in Tokyo is Sunday evening in New York


@pytest.mark.django_db
def test_the_partner_home_spells_out_the_plans_hours_in_both_zones(client, partner, partner_member, plan):
    from support.models import CalendarWindow

    calendar = plan.calendar
    calendar.windows.all().delete()
    calendar.time_zone, calendar.always_open = "America/Los_Angeles", False
    calendar.save()
    CalendarWindow.objects.bulk_create(
        CalendarWindow(calendar=calendar, weekday=d, start=s, end=e) for d, s, e in WEEKDAYS_6_TO_20
    )
    partner.time_zone = "Europe/London"
    partner.save()
    client.force_login(partner_member)
    page = client.get(reverse("home")).content.decode()
    assert "Mon–Fri 06:00–20:00 (America/Los_Angeles)" in page
    assert "in your time zone (Europe/London) this week: Mon–Fri" in page

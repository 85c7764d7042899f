import pytest
from django.urls import reverse

from support.models import BusinessCalendar

pytestmark = pytest.mark.django_db


def calendar_form(**overrides):
    data = {
        "name": "Berlin office",
        "time_zone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "",
        "windows-TOTAL_FORMS": "1",
        "windows-INITIAL_FORMS": "0",
        "windows-0-weekday": "0",
        "windows-0-start": "09:00",
        "windows-0-end": "17:00",
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_a_program_manager_creates_a_calendar_with_windows(client, program_manager):
    client.force_login(program_manager)
    response = client.post(reverse("admin:support_businesscalendar_add"), calendar_form())
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(name="Berlin office")
    assert calendar.windows.count() == 1


def test_a_calendar_with_no_working_time_is_refused(client, program_manager):
    client.force_login(program_manager)
    response = client.post(reverse("admin:support_businesscalendar_add"), calendar_form(**{"windows-TOTAL_FORMS": "0"}))
    assert response.status_code == 200
    assert "A calendar needs at least one working window, or tick 24/7." in response.content.decode()
    assert not BusinessCalendar.objects.exists()


def test_a_24_7_calendar_needs_no_windows(client, program_manager):
    client.force_login(program_manager)
    response = client.post(
        reverse("admin:support_businesscalendar_add"),
        calendar_form(name="Round the clock", always_open="on", **{"windows-TOTAL_FORMS": "0"}),
    )
    assert response.status_code == 302


def test_public_holidays_come_from_the_country(db):
    calendar = BusinessCalendar.objects.create(name="Berlin", time_zone="Europe/Berlin", holiday_country="DE")
    import datetime as dt

    assert dt.date(2026, 10, 3) in calendar.holiday_dates(range(2026, 2027))  # German Unity Day


def test_a_tiers_support_plan_is_set_on_the_tier_page_and_listed_with_the_tiers(client, program_manager, plan):
    from support.models import TierSupportPlan
    from tests.factories import MotionFactory
    from tiering.models import Ladder, Tier

    ladder = Ladder.objects.create(motion=MotionFactory(slug="services"), name="Services partners")
    tier = Tier.objects.create(ladder=ladder, name="Delivering", rank=1)
    client.force_login(program_manager)
    page = client.get(reverse("admin:tiering_tier_change", args=[tier.pk])).content.decode()
    assert "support_plan_entitlement-TOTAL_FORMS" in page  # the support plan inline, from support's admin
    form = {
        "ladder": ladder.pk,
        "name": "Delivering",
        "rank": "1",
        "description": "",
        "support_plan_entitlement-TOTAL_FORMS": "1",
        "support_plan_entitlement-INITIAL_FORMS": "0",
        "support_plan_entitlement-0-plan": plan.pk,
        "tier_benefits-TOTAL_FORMS": "0",
        "tier_benefits-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:tiering_tier_change", args=[tier.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert TierSupportPlan.objects.get(tier=tier).plan == plan
    listing = client.get(reverse("admin:tiering_tier_changelist")).content.decode()
    assert "Delivering" in listing and plan.name in listing
    plan_page = client.get(reverse("admin:support_supportplan_change", args=[plan.pk])).content.decode()
    assert "tier_entitlements-TOTAL_FORMS" in plan_page

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_staff_home_names_the_roles_and_what_each_may_reach(client, support_l1, program_manager):
    client.force_login(support_l1)
    page = client.get(reverse("home")).content.decode()
    assert "Support L1" in page
    assert "Back office" not in page  # L1 works in the portal, not the admin

    client.force_login(program_manager)
    page = client.get(reverse("home")).content.decode()
    assert "Program manager" in page
    assert reverse("admin:programs_partner_changelist") in page
    assert "you can edit them" in page


def test_navigation_offers_the_admin_only_to_people_with_admin_access(client, support_l1, support_manager):
    client.force_login(support_l1)
    assert reverse("admin:index") not in client.get(reverse("home")).content.decode()
    client.force_login(support_manager)
    assert reverse("admin:index") in client.get(reverse("home")).content.decode()


def test_an_agents_home_shows_their_working_day(client, plan, partner, partner_member, support_l1, support_l2):
    from datetime import date, timedelta
    from datetime import time as clock_time

    from django.utils import timezone

    from support.models import ActionItem, Escalation, OnCallLayer, OnCallMember, OnCallSchedule, Ticket
    from tests.factories import file_ticket

    now = timezone.now()
    mine = file_ticket(partner, partner_member, title="Mine to answer", severity="P3")
    soon = file_ticket(partner, partner_member, title="Due in forty minutes", severity="P2")
    escalated = file_ticket(partner, partner_member, title="Escalated to L1 person", severity="P4")
    Ticket.objects.filter(pk=mine.pk).update(assignee=support_l1, next_due_at=now + timedelta(days=1))
    Ticket.objects.filter(pk=soon.pk).update(assignee=support_l2, next_due_at=now + timedelta(minutes=40))
    Ticket.objects.filter(pk=escalated.pk).update(assignee=support_l2, next_due_at=now + timedelta(days=1))
    Escalation.objects.create(ticket=escalated, level=2, level_name="L2", cause="manual", reason="Stuck", at=now,
                              assignee=support_l1, routed_via="test")  # fmt: skip
    schedule = OnCallSchedule.objects.create(name="Desk", time_zone="UTC")
    layer = OnCallLayer.objects.create(schedule=schedule, name="All", starts_on=date(2026, 1, 5), handoff=clock_time(9))
    OnCallMember.objects.create(layer=layer, person=support_l2, position=1)
    ActionItem.objects.create(source="monthly_review", partner=partner, description="Call the partner about checkout",
                              owner=support_l1, due_on=timezone.localdate() - timedelta(days=2))  # fmt: skip
    client.force_login(support_l1)
    page = client.get(reverse("home")).content.decode()
    mine_card = page[page.index("My open tickets") : page.index("Breaching within the hour")]
    assert "Mine to answer" in mine_card and "Due in forty minutes" not in mine_card
    soon_card = page[page.index("Breaching within the hour") : page.index("Escalated to me")]
    assert "Due in forty minutes" in soon_card and "Mine to answer" not in soon_card
    escalated_card = page[page.index("Escalated to me") : page.index("On call now")]
    assert "Escalated to L1 person" in escalated_card
    assert "Desk" in page and support_l2.get_full_name() in page
    assert "Call the partner about checkout" in page and "overdue since" in page


def test_a_program_managers_home_has_no_ticket_cards(client, program_manager):
    client.force_login(program_manager)
    page = client.get(reverse("home")).content.decode()
    assert "My open tickets" not in page and "Back office" in page
